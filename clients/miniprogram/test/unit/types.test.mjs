// The hand-written declarations (index.d.ts, index.d.mts) against usage files, with the pinned
// TypeScript: the usage type-checks through both entries, and the mistakes in misuse.mts are
// caught, each on the line that says so.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const tsc = (project) =>
  spawnSync(process.execPath, [`${root}node_modules/typescript/bin/tsc`, '-p', `${root}test/types/${project}`], {
    encoding: 'utf8',
  });

test('the usage type-checks through the ES module and the CommonJS entries', () => {
  const out = tsc('tsconfig.json');
  assert.equal(out.status, 0, out.stdout + out.stderr);
});

test('the declarations catch the mistakes in misuse.mts, and only those', () => {
  const out = tsc('tsconfig.misuse.json');
  assert.notEqual(out.status, 0);
  const reported = [...out.stdout.matchAll(/misuse\.mts\((\d+),\d+\): error TS\d+/g)].map((m) => Number(m[1]));
  const expected = readFileSync(`${root}test/types/misuse.mts`, 'utf8')
    .split('\n')
    .flatMap((line, i) => (/\/\/ error: /.test(line) ? [i + 1] : []));
  assert.ok(expected.length >= 5);
  assert.deepEqual(reported, expected, out.stdout);
});

// What the WeChat developer tools' "Build npm" and miniprogram_npm need of the shipped package:
// ES2017 syntax only (acorn at ecmaVersion 2017 refuses `?.`, `??`, class fields, object
// spread, optional catch bindings, top-level await), no runtime dependency, and entries that
// exist and export the same API.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'acorn';
import * as esm from '../../index.mjs';

const require = createRequire(import.meta.url);
const root = fileURLToPath(new URL('../../', import.meta.url));
const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8'));
const sources = readdirSync(`${root}src`).filter((f) => f.endsWith('.js'));

test('the shipped source is ES2017', () => {
  assert.ok(sources.length >= 5, sources.join());
  for (const file of sources) {
    const text = readFileSync(`${root}src/${file}`, 'utf8');
    assert.doesNotThrow(() => parse(text, { ecmaVersion: 2017, sourceType: 'script' }), `src/${file}`);
  }
  assert.doesNotThrow(() => parse(readFileSync(`${root}index.mjs`, 'utf8'), { ecmaVersion: 2017, sourceType: 'module' }));
});

test('the ES2017 check refuses what mini programs cannot take', () => {
  for (const snippet of ['a?.b', 'a ?? b', 'class A { x = 1 }', 'const b = { ...a }', 'try {} catch {}', 'await x']) {
    assert.throws(() => parse(snippet, { ecmaVersion: 2017, sourceType: 'script' }), snippet);
  }
});

test('no runtime dependencies: the source requires only its own modules', () => {
  assert.equal(pkg.dependencies, undefined);
  assert.equal(pkg.peerDependencies, undefined);
  for (const file of sources) {
    const text = readFileSync(`${root}src/${file}`, 'utf8');
    for (const [, name] of text.matchAll(/require\(['"]([^'"]+)['"]\)/g)) {
      assert.match(name, /^\.\/[a-z-]+$/, `src/${file} requires ${name}`);
    }
  }
});

test('the entries exist and export the same API', () => {
  for (const entry of [pkg.main, pkg.module, pkg.types, pkg.exports['.'].import.types, pkg.exports['.'].require.default]) {
    assert.ok(existsSync(`${root}${entry}`), entry);
  }
  for (const file of pkg.files) assert.ok(existsSync(`${root}${file}`), file);
  const cjs = require(`${root}${pkg.main}`);
  assert.deepEqual(Object.keys(cjs).sort(), ['WxAuthError', 'createClient', 'errorCodes']);
  for (const name of Object.keys(cjs)) assert.equal(esm[name], cjs[name], name);
  assert.equal(esm.default, cjs);
  assert.equal(typeof cjs.createClient, 'function');
});

test('the package carries its licence: the field and the repository\'s two texts (npm ships LICENSE* files)', () => {
  assert.equal(pkg.license, '(MIT OR Apache-2.0)');
  for (const file of ['LICENSE-MIT', 'LICENSE-APACHE']) {
    assert.equal(readFileSync(`${root}${file}`, 'utf8'), readFileSync(`${root}../../${file}`, 'utf8'), file);
  }
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { singleFlight } = require('../../src/single-flight.js');

function deferred() {
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

test('callers while a flight runs share it', async () => {
  let runs = 0;
  const gate = deferred();
  const flight = singleFlight(() => {
    runs += 1;
    return gate.promise;
  });
  const callers = Array.from({ length: 10 }, () => flight());
  assert.ok(callers.every((p) => p === callers[0]));
  assert.ok(flight.pending());
  gate.resolve('x');
  assert.deepEqual(await Promise.all(callers), Array(10).fill('x'));
  assert.equal(runs, 1);
  assert.equal(flight.pending(), null);
});

test('a failed flight resets: the next call runs again', async () => {
  let runs = 0;
  const flight = singleFlight(async () => {
    runs += 1;
    if (runs === 1) throw new Error('first fails');
    return runs;
  });
  const a = flight();
  const b = flight();
  await assert.rejects(a, /first fails/);
  await assert.rejects(b, /first fails/, 'every waiting caller sees the failure');
  assert.equal(flight.pending(), null);
  assert.equal(await flight(), 2);
  assert.equal(runs, 2);
});

test('a caller reacting to the outcome starts a new flight, not the finished one', async () => {
  let runs = 0;
  const flight = singleFlight(async () => ++runs);
  const second = await flight().then(() => flight());
  assert.equal(second, 2);
});

test('a synchronous throw becomes the shared rejection', async () => {
  const flight = singleFlight(() => {
    throw new Error('sync');
  });
  const [a, b] = [flight(), flight()];
  assert.equal(a, b);
  await assert.rejects(a, /sync/);
});

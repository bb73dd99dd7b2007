// request() against an API of the test's own (a small node HTTP server on loopback) that answers
// 503/429 with Retry-After, or 401: the bounded retries and the single refresh-and-retry. The
// access token comes from the local stack.

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, test } from 'node:test';
import { WxAuthError } from '../index.mjs';
import { loggedOutClient } from './support/stack.mjs';

let api;
let script = [];
const hits = [];

before(async () => {
  api = createServer((req, res) => {
    hits.push({ url: req.url, authorization: req.headers.authorization });
    const next = script.length > 1 ? script.shift() : script[0];
    const { status, header = {}, body = { ok: true } } = typeof next === 'function' ? next() : next;
    res.writeHead(status, { 'content-type': 'application/json', ...header });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  });
  await new Promise((resolve) => api.listen(0, '127.0.0.1', resolve));
});
after(() => new Promise((resolve) => api.close(resolve)));

const url = (path) => `http://127.0.0.1:${api.address().port}${path}`;
const busy = (retryAfter) => ({
  status: 503,
  header: { 'retry-after': retryAfter },
  body: { error: 'temporarily_unavailable', error_description: 'busy' },
});
const OK = { status: 200, body: { ok: true } };

function answers(...list) {
  script = list;
  hits.length = 0;
}

test('503 with Retry-After: 1, then 200: the request is sent again after the wait', async () => {
  const { client } = loggedOutClient('503-once');
  await client.getAccessToken();
  answers(busy('1'), OK);
  const started = Date.now();
  const res = await client.request({ url: url('/orders'), method: 'POST', data: { n: 1 } });
  assert.equal(res.statusCode, 200);
  assert.deepEqual(res.data, { ok: true });
  assert.equal(hits.length, 2);
  assert.ok(Date.now() - started >= 950, `waited ${Date.now() - started} ms`);
  const bearer = `Bearer ${client.getTokens().accessToken}`;
  assert.deepEqual(hits.map((h) => h.authorization), [bearer, bearer]);
});

test('a server that always answers 503: at most maxRetries retries, then the error', async () => {
  const { client } = loggedOutClient('503-always', { client: { maxRetries: 2 } });
  await client.getAccessToken();
  answers(busy('1'));
  const started = Date.now();
  await assert.rejects(client.request({ url: url('/orders') }), (e) => {
    assert.ok(e instanceof WxAuthError);
    assert.deepEqual([e.status, e.error, e.description, e.retryAfter], [503, 'temporarily_unavailable', 'busy', 1]);
    return true;
  });
  assert.equal(hits.length, 3, 'the first try and two retries');
  assert.ok(Date.now() - started >= 1900);
});

test('a Retry-After beyond maxRetryDelayMs is not waited for: the error carries it', async () => {
  const { client } = loggedOutClient('503-long', { client: { maxRetryDelayMs: 5000 } });
  await client.getAccessToken();
  answers(busy('120'));
  const started = Date.now();
  await assert.rejects(client.request({ url: url('/orders') }), (e) => e.retryAfter === 120 && e.status === 503);
  assert.equal(hits.length, 1);
  assert.ok(Date.now() - started < 1000);
});

test('429 with an HTTP-date Retry-After is honoured', async () => {
  const { client } = loggedOutClient('429-date');
  await client.getAccessToken();
  answers(() => ({ status: 429, header: { 'retry-after': new Date(Date.now() + 2000).toUTCString() } }), OK);
  const started = Date.now();
  const res = await client.request({ url: url('/orders') });
  assert.equal(res.statusCode, 200);
  assert.equal(hits.length, 2);
  assert.ok(Date.now() - started >= 900, 'at least the date\'s whole seconds');
});

test('a 401 invalid_token (WWW-Authenticate only) is refreshed once and retried once, then surfaces', async () => {
  const { fake, client } = loggedOutClient('401-twice');
  const first = await client.getAccessToken();
  answers({ status: 401, header: { 'www-authenticate': 'Bearer realm="api", error="invalid_token"' }, body: '' });
  await assert.rejects(client.request({ url: url('/me') }), (e) => e.error === 'invalid_token' && e.status === 401);
  assert.equal(hits.length, 2);
  assert.equal(fake.grants('refresh_token').length, 1);
  const second = client.getTokens().accessToken;
  assert.notEqual(second, first);
  assert.deepEqual(hits.map((h) => h.authorization), [`Bearer ${first}`, `Bearer ${second}`]);
});

test('a 401 with invalid_token in the JSON body is refreshed too', async () => {
  const { fake, client } = loggedOutClient('401-body');
  await client.getAccessToken();
  answers({ status: 401, body: { error: 'invalid_token', error_description: 'expired' } }, OK);
  assert.equal((await client.request({ url: url('/me') })).statusCode, 200);
  assert.equal(fake.grants('refresh_token').length, 1);
});

test('a 401 that is not about the token, and other errors, are not retried', async () => {
  const { fake, client } = loggedOutClient('401-other');
  await client.getAccessToken();
  answers({ status: 401, header: { 'www-authenticate': 'Bearer realm="api"' }, body: '' });
  await assert.rejects(client.request({ url: url('/me') }), (e) => e.status === 401 && e.error === 'http_error');
  assert.equal(hits.length, 1, 'a missing-token challenge has no error="invalid_token"');
  answers({ status: 403, body: { error: 'insufficient_scope' } });
  await assert.rejects(client.request({ url: url('/me') }), (e) => e.status === 403 && e.error === 'insufficient_scope');
  assert.equal(hits.length, 1);
  answers({ status: 500, body: '<h1>oops</h1>' }, OK);
  await assert.rejects(client.request({ url: url('/me') }), (e) => e.status === 500 && e.error === 'http_error');
  assert.equal(hits.length, 1);
  assert.equal(fake.grants('refresh_token').length, 0);
});

test('a request that gets no answer is not retried: network_error', async () => {
  const { fake, client } = loggedOutClient('no-answer');
  await client.getAccessToken();
  answers(OK);
  fake.goOffline((call) => call.url.startsWith(url('/')));
  await assert.rejects(client.request({ url: url('/orders'), method: 'POST' }), (e) => e.error === 'network_error' && e.status === 0);
  assert.equal(fake.calls.filter((c) => c.url.startsWith(url('/'))).length, 1);
  assert.equal(hits.length, 0);
});

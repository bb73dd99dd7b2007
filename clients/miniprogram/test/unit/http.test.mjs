// Retry-After (seconds and HTTP-date), the retry bound, Bearer challenges and error bodies.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const http = require('../../src/http.js');

const NOW = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT');

test('Retry-After in seconds', () => {
  assert.equal(http.parseRetryAfter('1', NOW), 1000);
  assert.equal(http.parseRetryAfter(' 120 ', NOW), 120_000);
  assert.equal(http.parseRetryAfter('0', NOW), 0);
});

test('Retry-After as an HTTP-date, in each of its three forms; a past date is no wait', () => {
  assert.equal(http.parseRetryAfter('Wed, 21 Oct 2015 07:28:05 GMT', NOW), 5000);
  assert.equal(http.parseRetryAfter('Wednesday, 21-Oct-15 07:28:03 GMT', NOW), 3000);
  const zone = process.env.TZ;
  process.env.TZ = 'Asia/Shanghai'; // a phone in China: Date.parse would read asctime as UTC+8
  try {
    assert.equal(http.parseRetryAfter('Wed Oct 21 07:28:02 2015', NOW), 2000, 'asctime is GMT too');
  } finally {
    if (zone === undefined) delete process.env.TZ;
    else process.env.TZ = zone;
  }
  assert.equal(http.parseRetryAfter('Tue, 20 Oct 2015 07:28:00 GMT', NOW), 0);
});

test('an unreadable Retry-After is none', () => {
  for (const value of [undefined, null, '', '-1', '1.5', 'soon', '2015-10-21', 'Wed, 99 Foo 2015 07:28:00 GMT']) {
    assert.equal(http.parseRetryAfter(value, NOW), null, String(value));
  }
});

const policy = (over = {}) => ({ maxRetries: 2, maxDelayMs: 10_000, now: () => NOW, sleep: async () => {}, ...over });
const answer = (statusCode, retryAfter) => ({ statusCode, data: {}, header: retryAfter === undefined ? {} : { 'Retry-After': retryAfter } });

test('only 429 and 503 with a Retry-After within the cap are retried, at most maxRetries times', () => {
  assert.equal(http.retryDelay(answer(503, '1'), 0, policy()), 1000);
  assert.equal(http.retryDelay(answer(429, '2'), 1, policy()), 2000);
  assert.equal(http.retryDelay(answer(503, '1'), 2, policy()), null, 'the count is bounded');
  assert.equal(http.retryDelay(answer(503, '11'), 0, policy()), null, 'the wait is capped: longer is not retried');
  assert.equal(http.retryDelay(answer(503, '10'), 0, policy()), 10_000);
  assert.equal(http.retryDelay(answer(503), 0, policy()), null, 'no Retry-After, no retry');
  assert.equal(http.retryDelay(answer(500, '1'), 0, policy()), null);
  assert.equal(http.retryDelay(answer(200, '1'), 0, policy()), null);
  assert.equal(http.retryDelay(answer(503, '1'), 0, policy({ maxRetries: 0 })), null);
});

test('withRetries waits as told and stops at the bound', async () => {
  const waits = [];
  let attempts = 0;
  const res = await http.withRetries(
    async (n) => {
      assert.equal(n, attempts, 'attempts are numbered from 0');
      attempts += 1;
      return answer(503, '1');
    },
    policy({ sleep: async (ms) => waits.push(ms) }),
  );
  assert.equal(res.statusCode, 503);
  assert.equal(attempts, 3);
  assert.deepEqual(waits, [1000, 1000]);

  attempts = 0;
  const ok = await http.withRetries(async () => (++attempts === 1 ? answer(429, '0') : answer(200)), policy());
  assert.equal(ok.statusCode, 200);
  assert.equal(attempts, 2);
});

test('Bearer challenges and invalid_token', () => {
  const header = { 'WWW-Authenticate': 'Bearer realm="http://x", error="invalid_token", error_description="the token \\"expired\\""' };
  assert.deepEqual(http.bearerChallenge(header), {
    realm: 'http://x',
    error: 'invalid_token',
    error_description: 'the token "expired"',
  });
  assert.equal(http.isInvalidToken({ statusCode: 401, header, data: '' }), true);
  assert.equal(http.isInvalidToken({ statusCode: 401, header: {}, data: { error: 'invalid_token' } }), true, 'from the body');
  assert.equal(http.isInvalidToken({ statusCode: 401, header: {}, data: '{"error":"invalid_token"}' }), true, 'unparsed JSON');
  assert.equal(
    http.isInvalidToken({ statusCode: 401, header: { 'www-authenticate': 'Bearer realm="http://x"' }, data: '' }),
    false,
    'a missing token is not an invalid one',
  );
  assert.equal(http.isInvalidToken({ statusCode: 403, header, data: '' }), false);
  assert.equal(http.isInvalidToken({ statusCode: 401, header: { 'www-authenticate': 'Basic realm="x"' }, data: {} }), false);
});

test('errors carry the OAuth code, description, status and Retry-After', () => {
  const e = http.errorFromResponse(
    { statusCode: 503, header: { 'retry-after': '2' }, data: { error: 'temporarily_unavailable', error_description: 'busy' } },
    NOW,
  );
  assert.equal(e.name, 'WxAuthError');
  assert.deepEqual([e.error, e.description, e.status, e.retryAfter], ['temporarily_unavailable', 'busy', 503, 2]);
  const bare = http.errorFromResponse({ statusCode: 502, header: {}, data: '<html>Bad Gateway</html>' }, NOW);
  assert.deepEqual([bare.error, bare.status, bare.retryAfter], ['http_error', 502, null]);
  const challenge = http.errorFromResponse(
    { statusCode: 401, header: { 'WWW-Authenticate': 'Bearer error="invalid_token"' }, data: '' },
    NOW,
  );
  assert.equal(challenge.error, 'invalid_token');
});

test('forms are encoded without URLSearchParams, skipping absent values', () => {
  assert.equal(
    http.formEncode({ grant_type: 'urn:wxauth:grant-type:wechat-code', code: 'a b&c=d', scope: undefined, x: null }),
    'grant_type=urn%3Awxauth%3Agrant-type%3Awechat-code&code=a%20b%26c%3Dd',
  );
});

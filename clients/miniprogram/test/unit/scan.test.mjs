// client.scan (scan to sign in on a computer) with a scripted wx (no server): the request it
// sends, the scene's decoding and checks, the server's errors, and the authenticated request's
// relogin on 401 and retry of 503.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createClient, WxAuthError } from '../../index.mjs';
import { oauthError, scriptedWx, tokenBody } from '../support/scripted-wx.mjs';

const BASE = 'https://auth.example.test';
const TICKET = '0123456789abcdef0123456789abcdef';

const reply = (status) => ({
  status: 200,
  body: { status, client_name: 'Demo Web', scopes: ['openid', 'profile'], expires_in: 287 },
});

/** A wxauth that issues at-N/rt-N, answers refreshes with `refresh` (default: new tokens), and /wechat/scan with `scan`. */
function setup(scan, { refresh } = {}) {
  let issued = 0;
  const fake = scriptedWx((call) => {
    if (call.path === '/wechat/scan') return scan(call);
    if (call.path === '/oauth/token' && call.form.grant_type === 'refresh_token' && refresh) {
      const decided = refresh(call);
      if (decided) return decided;
    }
    if (call.path === '/oauth/token') return tokenBody(++issued);
    return { status: 404, body: '' };
  });
  const waits = [];
  const client = createClient({
    baseUrl: BASE,
    clientId: 'mp',
    wx: fake.wx,
    sleep: async (ms) => {
      waits.push(ms);
    },
  });
  const scans = () => fake.calls.filter((c) => c.path === '/wechat/scan');
  return { fake, client, waits, scans };
}

const actionOf = { scanned: 'scanned', approve: 'approved', deny: 'denied' };

test('inspect, approve and deny POST the scene and their action as JSON with the Bearer token, and resolve to the body', async () => {
  const { fake, client, scans } = setup((call) => reply(actionOf[call.json.action]));
  assert.deepEqual(await client.scan.inspect(TICKET), {
    status: 'scanned',
    client_name: 'Demo Web',
    scopes: ['openid', 'profile'],
    expires_in: 287,
  });
  assert.equal((await client.scan.approve(TICKET)).status, 'approved');
  assert.equal((await client.scan.deny(TICKET)).status, 'denied');
  assert.equal(fake.logins, 1, 'signed in once, for the first call');
  const sent = scans();
  assert.deepEqual(
    sent.map((c) => c.json),
    [
      { scene: TICKET, action: 'scanned' },
      { scene: TICKET, action: 'approve' },
      { scene: TICKET, action: 'deny' },
    ],
  );
  for (const call of sent) {
    assert.equal(call.url, `${BASE}/wechat/scan`);
    assert.equal(call.method, 'POST');
    assert.equal(call.header.Authorization, 'Bearer at-1');
    assert.equal(call.header['content-type'], 'application/json');
  }
});

test('a JSON body left as text (a proxy) is parsed', async () => {
  const { client } = setup(() => ({ status: 200, body: JSON.stringify(reply('scanned').body) }));
  assert.equal((await client.scan.inspect(TICKET)).client_name, 'Demo Web');
});

test('a URL-encoded scene is decoded, a raw one is sent as it is', async () => {
  const { client, scans } = setup(() => reply('scanned'));
  await client.scan.inspect(encodeURIComponent('a=b&c'));
  await client.scan.inspect('a+b=c');
  // Encoded it is longer than 32 characters; decoded it is 32.
  const long = `${'x'.repeat(29)}&=/`;
  await client.scan.inspect(encodeURIComponent(long));
  assert.deepEqual(scans().map((c) => c.json.scene), ['a=b&c', 'a+b=c', long]);
});

test('a missing, empty, too long or badly encoded scene is refused locally with invalid_argument', async () => {
  const { fake, client } = setup(() => reply('scanned'));
  const bad = [undefined, null, 42, { scene: TICKET }, '', 'x'.repeat(33), `${'x'.repeat(30)}%41%42%43`, '%E0%A4%A', 'a%'];
  for (const scene of bad) {
    for (const method of ['inspect', 'approve', 'deny']) {
      const pending = client.scan[method](scene);
      assert.ok(pending instanceof Promise, 'a rejection, never a throw');
      await assert.rejects(
        pending,
        (e) => e instanceof WxAuthError && e.error === 'invalid_argument' && e.status === 0 && e.description.startsWith(`scan.${method}: `),
        `${method}(${JSON.stringify(scene)})`,
      );
    }
  }
  assert.equal(fake.calls.length, 0, 'nothing sent, not even a login');
});

test('the server\'s errors come back as WxAuthErrors, not retried', async () => {
  const cases = [
    [400, 'invalid_grant', 'this code expired or was answered already: show a new one'],
    [400, 'invalid_request', 'another user scanned this code'],
    [403, 'insufficient_scope', 'this access token is not of the scan sign-in mini program'],
    [403, 'unauthorized_client', 'another client'],
  ];
  for (const [status, error, description] of cases) {
    const { client, scans } = setup(() => ({ status, body: { error, error_description: description } }));
    await assert.rejects(
      client.scan.approve(TICKET),
      (e) => e instanceof WxAuthError && e.error === error && e.status === status && e.description === description && e.data.error === error,
    );
    assert.equal(scans().length, 1, error);
  }
});

test('a 200 without a status is invalid_response', async () => {
  const { client } = setup(() => ({ status: 200, body: '<html>captive portal</html>' }));
  await assert.rejects(client.scan.inspect(TICKET), (e) => e instanceof WxAuthError && e.error === 'invalid_response' && e.status === 200);
});

test('401 invalid_token: the token is refreshed once and the same scan sent again', async () => {
  const { fake, client, scans } = setup((call) =>
    call.header.Authorization === 'Bearer at-1'
      ? { status: 401, body: { error: 'invalid_token', error_description: 'revoked' }, header: { 'WWW-Authenticate': 'Bearer error="invalid_token"' } }
      : reply('approved'),
  );
  assert.equal((await client.scan.approve(TICKET)).status, 'approved');
  assert.deepEqual(scans().map((c) => [c.header.Authorization, c.json]), [
    ['Bearer at-1', { scene: TICKET, action: 'approve' }],
    ['Bearer at-2', { scene: TICKET, action: 'approve' }],
  ]);
  assert.equal(fake.grants('refresh_token').length, 1);
  assert.equal(fake.logins, 1);
});

test('401 invalid_token with a refresh token that is refused too: one fresh login, then the scan again', async () => {
  const { fake, client, scans } = setup(
    (call) => (call.header.Authorization === 'Bearer at-1' ? oauthError(401, 'invalid_token') : reply('scanned')),
    { refresh: () => oauthError(400, 'invalid_grant') },
  );
  assert.equal((await client.scan.inspect(TICKET)).status, 'scanned');
  assert.deepEqual(scans().map((c) => c.header.Authorization), ['Bearer at-1', 'Bearer at-2']);
  assert.equal(fake.grants('refresh_token').length, 1);
  assert.equal(fake.logins, 2, 'the login after the refused refresh');
});

test('a second 401 is the caller\'s error', async () => {
  const { client, scans } = setup(() => oauthError(401, 'invalid_token'));
  await assert.rejects(client.scan.deny(TICKET), (e) => e.error === 'invalid_token' && e.status === 401);
  assert.equal(scans().length, 2);
});

test('503 with Retry-After is retried (the actions are idempotent); a long wait is handed to the caller', async () => {
  let n = 0;
  const { client, waits, scans } = setup(() =>
    ++n === 1 ? oauthError(503, 'temporarily_unavailable', { 'Retry-After': '2' }) : reply('approved'),
  );
  assert.equal((await client.scan.approve(TICKET)).status, 'approved');
  assert.deepEqual(waits, [2000]);
  assert.deepEqual(scans().map((c) => c.json), [
    { scene: TICKET, action: 'approve' },
    { scene: TICKET, action: 'approve' },
  ]);

  const busy = setup(() => oauthError(503, 'temporarily_unavailable', { 'Retry-After': '60' }));
  await assert.rejects(busy.client.scan.inspect(TICKET), (e) => e.status === 503 && e.retryAfter === 60);
  assert.equal(busy.scans().length, 1);
});

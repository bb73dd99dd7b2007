// The client's expiry, refresh and retry logic with a fake clock and a scripted wx (no server).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createClient, WxAuthError } from '../../index.mjs';
import { oauthError, scriptedWx, tick, tokenBody } from '../support/scripted-wx.mjs';

const BASE = 'https://auth.example.test';
const T0 = 1_700_000_000_000;

function clock() {
  let t = T0;
  const now = () => t;
  now.set = (ms) => {
    t = ms;
  };
  return now;
}

/** A wxauth that issues at-N/rt-N, and `refresh(call, n)` deciding each refresh's answer. */
function server({ refresh } = {}) {
  let issued = 0;
  let refreshes = 0;
  return (call) => {
    if (call.path === '/oauth/token' && call.form.grant_type === 'urn:wxauth:grant-type:wechat-code') {
      return tokenBody(++issued);
    }
    if (call.path === '/oauth/token' && call.form.grant_type === 'refresh_token') {
      refreshes += 1;
      const decided = refresh && refresh(call, refreshes);
      return decided || tokenBody(++issued);
    }
    if (call.path === '/oauth/revoke') return { status: 200, body: {} };
    return { status: 200, body: { ok: true, auth: call.header.Authorization } };
  };
}

function setup(answer, options = {}) {
  const fake = scriptedWx(answer);
  const now = clock();
  const waits = [];
  const client = createClient({
    baseUrl: BASE,
    clientId: 'mp',
    wx: fake.wx,
    now,
    sleep: async (ms) => {
      waits.push(ms);
    },
    ...options,
  });
  return { fake, now, waits, client };
}

test('the access token is refreshed within the skew margin of its expiry, and not before', async () => {
  const { fake, now, client } = setup(server(), { clockSkewMs: 30_000 });
  assert.equal(await client.getAccessToken(), 'at-1');
  now.set(T0 + 900_000 - 30_001);
  assert.equal(await client.getAccessToken(), 'at-1');
  assert.equal(fake.grants('refresh_token').length, 0);
  now.set(T0 + 900_000 - 30_000);
  assert.equal(await client.getAccessToken(), 'at-2');
  assert.equal(fake.grants('refresh_token').length, 1);
  assert.equal(fake.grants('refresh_token')[0].form.refresh_token, 'rt-1');
  assert.equal(client.getTokens().expiresAt, T0 + 900_000 - 30_000 + 900_000, 'counted from when the refresh was sent');
});

test('concurrent callers with an expired token share one refresh', async () => {
  const { fake, now, client } = setup(server());
  await client.login();
  now.set(T0 + 901_000);
  const tokens = await Promise.all(Array.from({ length: 20 }, () => client.getAccessToken()));
  assert.deepEqual(new Set(tokens), new Set(['at-2']));
  assert.equal(fake.grants('refresh_token').length, 1);
});

test('a refresh that gets no answer is sent again with the same token, a bounded number of times, without logging out', async () => {
  const { fake, now, waits, client } = setup(server({ refresh: () => 'network' }), {
    lostRefreshRetries: 2,
    lostRefreshDelayMs: 100,
  });
  await client.login();
  now.set(T0 + 901_000);
  await assert.rejects(client.getAccessToken(), (e) => e instanceof WxAuthError && e.error === 'network_error');
  const sent = fake.grants('refresh_token');
  assert.equal(sent.length, 3, 'the first try and two retries');
  assert.ok(sent.every((c) => c.form.refresh_token === 'rt-1'), 'always the same refresh token');
  assert.deepEqual(waits, [100, 200]);
  assert.equal(fake.logins, 1, 'no login');
  assert.equal(client.getTokens().accessToken, 'at-1', 'the tokens are kept');
});

test('a lost refresh answer followed by a good one is adopted', async () => {
  const { fake, now, client } = setup(server({ refresh: (call, n) => (n === 1 ? 'network' : null) }));
  await client.login();
  now.set(T0 + 901_000);
  assert.equal(await client.getAccessToken(), 'at-2');
  assert.equal(fake.grants('refresh_token').length, 2);
  assert.equal(fake.logins, 1);
});

test('invalid_grant on refresh: exactly one fresh login, and its failure surfaces without a loop', async () => {
  let logins = 0;
  const answer = (call) => {
    if (call.form && call.form.grant_type === 'refresh_token') return oauthError(400, 'invalid_grant');
    if (call.form && call.form.code) return ++logins === 1 ? tokenBody(1) : oauthError(400, 'invalid_grant');
    return { status: 200, body: {} };
  };
  const { fake, now, client } = setup(answer);
  await client.login();
  now.set(T0 + 901_000);
  await assert.rejects(client.getAccessToken(), (e) => e.error === 'invalid_grant' && e.status === 400);
  assert.equal(fake.grants('refresh_token').length, 1);
  assert.equal(fake.logins, 2, 'one login after the refused refresh');
  assert.equal(client.getTokens(), null, 'the dead tokens are gone');
  assert.equal(fake.calls.length, 3);
});

test('the refresh flight resets after a failure: the next call refreshes again', async () => {
  const { fake, now, client } = setup(server({ refresh: (call, n) => (n === 1 ? oauthError(503, 'temporarily_unavailable') : null) }));
  await client.login();
  now.set(T0 + 901_000);
  const first = await Promise.allSettled([client.getAccessToken(), client.getAccessToken()]);
  assert.deepEqual(first.map((r) => r.status), ['rejected', 'rejected']);
  assert.equal(first[0].reason.error, 'temporarily_unavailable');
  assert.equal(fake.grants('refresh_token').length, 1, 'one shared attempt; a 503 without Retry-After is not retried');
  assert.equal(await client.getAccessToken(), 'at-2');
  assert.equal(fake.grants('refresh_token').length, 2);
});

test('a 503 with Retry-After is retried after the wait, at most maxRetries times', async () => {
  const busy = oauthError(503, 'temporarily_unavailable', { 'Retry-After': '1' });
  const { fake, now, waits, client } = setup(server({ refresh: () => busy }), { maxRetries: 3 });
  await client.login();
  now.set(T0 + 901_000);
  await assert.rejects(client.getAccessToken(), (e) => e.status === 503 && e.retryAfter === 1);
  assert.equal(fake.grants('refresh_token').length, 4);
  assert.deepEqual(waits, [1000, 1000, 1000]);
});

test('a Retry-After longer than maxRetryDelayMs is handed to the caller instead of waited for', async () => {
  const quota = oauthError(429, 'temporarily_unavailable', { 'retry-after': '60' });
  const { fake, waits, client } = setup((call) => (call.form && call.form.code ? quota : null));
  await assert.rejects(client.login(), (e) => e.status === 429 && e.retryAfter === 60);
  assert.equal(fake.logins, 1);
  assert.deepEqual(waits, []);
});

test('a login retried after 503 asks wx.login for a fresh code', async () => {
  let n = 0;
  const { fake, client } = setup((call) =>
    ++n === 1 ? oauthError(503, 'temporarily_unavailable', { 'Retry-After': '0' }) : tokenBody(1),
  );
  await client.login();
  assert.deepEqual(fake.grants('urn:wxauth:grant-type:wechat-code').map((c) => c.form.code), ['code-1', 'code-2']);
});

test('request: a 401 invalid_token refreshes once and retries once', async () => {
  let api = 0;
  const base = server();
  const { fake, client } = setup((call) => {
    if (call.path !== '/api') return base(call);
    api += 1;
    return { status: 401, body: '', header: { 'WWW-Authenticate': 'Bearer error="invalid_token"' } };
  });
  await assert.rejects(client.request({ url: '/api' }), (e) => e.error === 'invalid_token' && e.status === 401);
  assert.equal(api, 2);
  assert.equal(fake.grants('refresh_token').length, 1);
  assert.deepEqual(
    fake.calls.filter((c) => c.path === '/api').map((c) => c.header.Authorization),
    ['Bearer at-1', 'Bearer at-2'],
  );
});

test('logout waits for a refresh in flight, revokes the newest refresh token and clears storage', async () => {
  let release;
  const gate = new Promise((resolve) => {
    release = resolve;
  });
  const { fake, now, client } = setup(server({ refresh: () => gate.then(() => tokenBody(2)) }));
  await client.login();
  now.set(T0 + 901_000);
  const refreshing = client.getAccessToken();
  await tick();
  const out = client.logout();
  await tick();
  assert.equal(fake.calls.filter((c) => c.path === '/oauth/revoke').length, 0, 'not before the refresh ended');
  release();
  assert.equal(await refreshing, 'at-2');
  assert.deepEqual(await out, { revoked: true });
  const revoke = fake.calls.find((c) => c.path === '/oauth/revoke');
  assert.deepEqual(revoke.form, { client_id: 'mp', token: 'rt-2', token_type_hint: 'refresh_token' });
  assert.equal(client.getTokens(), null);
  assert.equal(fake.storage.size, 0);
});

test('logout offline still clears storage, and says the revocation failed', async () => {
  const base = server();
  const { fake, client } = setup((call) => (call.path === '/oauth/revoke' ? 'network' : base(call)));
  await client.login();
  const out = await client.logout();
  assert.equal(out.revoked, false);
  assert.equal(out.error.error, 'network_error');
  assert.equal(fake.storage.size, 0);
});

test('createClient checks its options', () => {
  const { wx } = scriptedWx(() => null);
  assert.throws(() => createClient({ clientId: 'mp', wx }), TypeError);
  assert.throws(() => createClient({ baseUrl: 'auth.example', clientId: 'mp', wx }), TypeError);
  assert.throws(() => createClient({ baseUrl: BASE, wx }), TypeError);
  assert.throws(() => createClient({ baseUrl: BASE, clientId: 'mp' }), /no wx API/);
  assert.throws(() => createClient({ baseUrl: BASE, clientId: 'mp', wx, maxRetries: -1 }), TypeError);
});

test('wx.login and wx.request that throw become WxAuthErrors', async () => {
  const { wx } = scriptedWx(() => null);
  const throwing = createClient({
    baseUrl: BASE,
    clientId: 'mp',
    wx: { ...wx, request: () => { throw new Error('bad url'); } },
  });
  await assert.rejects(throwing.login(), (e) => e instanceof WxAuthError && e.error === 'invalid_argument' && /bad url/.test(e.description));
  const noLogin = createClient({ baseUrl: BASE, clientId: 'mp', wx: { ...wx, login: () => { throw new Error('no'); } } });
  await assert.rejects(noLogin.getAccessToken(), (e) => e instanceof WxAuthError && e.error === 'wx_login_failed');
});

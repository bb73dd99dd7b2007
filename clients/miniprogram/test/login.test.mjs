// Login, restore after an app restart, single-flight login, logout — against the local stack
// (support/stack.mjs says what it needs), with a fake wx that behaves as WeChat's does.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createClient, WxAuthError } from '../index.mjs';
import { createFakeWx } from './support/fake-wx.mjs';
import { BASE, CLIENT_ID, loggedOutClient, refreshDirectly, stored, uniqueName, userinfo } from './support/stack.mjs';

const WECHAT_GRANT = 'urn:wxauth:grant-type:wechat-code';

test('the first login stores the tokens, and a restarted app restores them without wx.login', async () => {
  const { name, fake, client } = loggedOutClient('first');
  assert.equal(client.getTokens(), null);
  const tokens = await client.login();
  assert.equal(tokens.openid, `openid-${name}`);
  assert.match(tokens.accessToken, /^ey[\w-]+\.[\w-]+\.[\w-]+$/);
  assert.ok(tokens.idToken, 'the scope has openid: an ID token too');
  assert.equal(tokens.refreshToken, undefined, 'the refresh token stays inside the SDK');
  assert.equal(fake.logins, 1);
  const [grant] = fake.grants(WECHAT_GRANT);
  assert.equal(grant.header['content-type'], 'application/x-www-form-urlencoded');
  assert.deepEqual(Object.fromEntries(new URLSearchParams(grant.body)), {
    grant_type: WECHAT_GRANT,
    client_id: CLIENT_ID,
    code: `ok-${name}`,
  });
  const kept = stored(fake);
  assert.equal(kept.accessToken, tokens.accessToken);
  assert.ok(kept.refreshToken);
  assert.equal((await userinfo(tokens.accessToken)).json.openid, `openid-${name}`);

  // The app restarts: a new client object on the same storage.
  const calls = fake.calls.length;
  const restarted = createClient({ baseUrl: BASE, clientId: CLIENT_ID, wx: fake.wx });
  assert.equal(restarted.getTokens().openid, `openid-${name}`);
  assert.equal(await restarted.getAccessToken(), tokens.accessToken);
  assert.equal(fake.calls.length, calls, 'no request at all');
  const res = await restarted.request({ url: '/userinfo' });
  assert.equal(res.statusCode, 200);
  assert.equal(res.data.openid, `openid-${name}`);
  assert.equal(fake.logins, 1, 'no new wx.login');
  assert.equal(fake.calls.at(-1).header.authorization, `Bearer ${tokens.accessToken}`);

  // Tokens are namespaced per client id.
  const other = createClient({ baseUrl: BASE, clientId: 'another-miniprogram', wx: fake.wx });
  assert.equal(other.getTokens(), null);
});

test('ten concurrent logins share one wx.login and one token request', async () => {
  const { fake, client } = loggedOutClient('ten');
  const all = await Promise.all(Array.from({ length: 10 }, () => client.login()));
  assert.equal(new Set(all.map((t) => t.accessToken)).size, 1);
  assert.equal(fake.logins, 1);
  assert.equal(fake.grants(WECHAT_GRANT).length, 1);
  // Once it is over, login() logs in again (a new session key).
  const again = await client.login();
  assert.notEqual(again.accessToken, all[0].accessToken);
  assert.equal(fake.logins, 2);
});

test('concurrent requests on a fresh install log in once', async () => {
  const { fake, client } = loggedOutClient('fresh');
  const results = await Promise.all(Array.from({ length: 10 }, () => client.request({ url: '/userinfo' })));
  assert.ok(results.every((r) => r.statusCode === 200));
  assert.equal(fake.logins, 1);
  assert.equal(fake.grants(WECHAT_GRANT).length, 1);
});

test('a scope asked for at login is sent and granted', async () => {
  const { fake, client } = loggedOutClient('scope', { client: { scope: 'openid' } });
  const tokens = await client.login();
  assert.equal(new URLSearchParams(fake.grants(WECHAT_GRANT)[0].body).get('scope'), 'openid');
  assert.equal(tokens.scope, 'openid');
});

test('logout revokes the refresh token and clears storage', async () => {
  const { fake, client } = loggedOutClient('logout');
  await client.login();
  const { refreshToken } = stored(fake);
  assert.deepEqual(await client.logout(), { revoked: true });
  const [revoke] = fake.to('/oauth/revoke');
  assert.deepEqual(Object.fromEntries(new URLSearchParams(revoke.body)), {
    client_id: CLIENT_ID,
    token: refreshToken,
    token_type_hint: 'refresh_token',
  });
  assert.equal(stored(fake), null);
  assert.equal(client.getTokens(), null);
  const refused = await refreshDirectly(refreshToken);
  assert.deepEqual([refused.status, refused.json.error], [400, 'invalid_grant']);
});

test('logout offline still clears storage, and says the refresh token was not revoked', async () => {
  const { fake, client } = loggedOutClient('offline');
  await client.login();
  const { refreshToken } = stored(fake);
  fake.goOffline((call) => call.url.endsWith('/oauth/revoke'));
  const out = await client.logout();
  assert.equal(out.revoked, false);
  assert.ok(out.error instanceof WxAuthError);
  assert.equal(out.error.error, 'network_error');
  assert.equal(stored(fake), null, 'cleared all the same');
  // What README.md says: the server never heard of it, so the token lives on until it expires
  // (nobody has it any more).
  assert.equal((await refreshDirectly(refreshToken)).status, 200);
});

test('a login the token endpoint answers 503 (WeChat busy) is retried with a fresh code, a bounded number of times', async () => {
  // err--1: the mock WeChat answers -1 to every try; wxauth retries once itself, then 503 with
  // Retry-After: 1.
  const { fake, client } = loggedOutClient('busy', { codes: ['err--1'], client: { maxRetries: 2 } });
  const started = Date.now();
  await assert.rejects(client.login(), (e) => {
    assert.ok(e instanceof WxAuthError);
    assert.deepEqual([e.status, e.error, e.retryAfter], [503, 'temporarily_unavailable', 1]);
    return true;
  });
  assert.equal(fake.grants(WECHAT_GRANT).length, 3, 'the first try and two retries');
  assert.equal(fake.logins, 3, 'each with a code of its own');
  assert.ok(Date.now() - started >= 1900, 'Retry-After was waited for');
  assert.equal(stored(fake), null);
});

test('a login that meets one 503 succeeds on its retry', async () => {
  const name = uniqueName('retry');
  const fake = createFakeWx({ codes: ['err--1', `ok-${name}`] });
  const client = createClient({ baseUrl: BASE, clientId: CLIENT_ID, wx: fake.wx });
  const tokens = await client.login();
  assert.equal(tokens.openid, `openid-${name}`);
  assert.equal(fake.logins, 2);
  assert.deepEqual(
    fake.grants(WECHAT_GRANT).map((c) => new URLSearchParams(c.body).get('code')),
    ['err--1', `ok-${name}`],
  );
});

test('a refused code and a failing wx.login surface as WxAuthError, without retries', async () => {
  const used = loggedOutClient('used', { codes: ['err-40029'] });
  await assert.rejects(used.client.login(), (e) => e.error === 'invalid_grant' && e.status === 400);
  assert.equal(used.fake.grants(WECHAT_GRANT).length, 1);
  const risky = loggedOutClient('risky', { codes: ['err-40226'] });
  await assert.rejects(risky.client.login(), (e) => e.error === 'access_denied' && e.status === 403);
  const broken = loggedOutClient('broken', { codes: [new Error('system error')] });
  await assert.rejects(broken.client.login(), (e) => e.error === 'wx_login_failed' && /login:fail/.test(e.description));
  assert.equal(broken.fake.calls.length, 0);
});

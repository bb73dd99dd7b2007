// Refresh against the local stack: one refresh for many callers, a lost refresh answer (with and
// without the server's REFRESH_REUSE_GRACE), a family revoked behind the SDK's back, and 401
// invalid_token. The SDK's clock is injected; the server's is real (its tokens stay valid).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { isRefresh } from './support/fake-wx.mjs';
import {
  fakeClock,
  loggedOutClient,
  refreshDirectly,
  revokeDirectly,
  startLocalServer,
  stored,
  userinfo,
} from './support/stack.mjs';

const EXPIRED = 15 * 60 * 1000 + 1; // ACCESS_TOKEN_TTL's default, 900 s, and a millisecond
const WECHAT_GRANT = 'urn:wxauth:grant-type:wechat-code';
const refreshTokenOf = (call) => new URLSearchParams(call.body).get('refresh_token');

async function loggedIn(label, options = {}) {
  const now = fakeClock();
  const setup = loggedOutClient(label, { ...options, client: { now, ...options.client } });
  const tokens = await setup.client.login();
  return { ...setup, now, tokens };
}

test('fifty concurrent requests with an expired access token: exactly one refresh, fifty successes', async () => {
  const { fake, client, now, name, tokens } = await loggedIn('fifty');
  now.advance(EXPIRED);
  const results = await Promise.all(Array.from({ length: 50 }, () => client.request({ url: '/userinfo' })));
  assert.equal(results.length, 50);
  for (const res of results) {
    assert.equal(res.statusCode, 200);
    assert.equal(res.data.openid, `openid-${name}`);
  }
  assert.equal(fake.grants('refresh_token').length, 1);
  const fresh = client.getTokens().accessToken;
  assert.notEqual(fresh, tokens.accessToken);
  const sent = fake.to('/userinfo').map((c) => c.header.authorization);
  assert.equal(sent.length, 50, 'no request was retried');
  assert.ok(sent.every((h) => h === `Bearer ${fresh}`), 'every request waited for the refresh');
  assert.equal(fake.logins, 1);
});

test('the access token is refreshed ahead of expiry, within the clock-skew margin', async () => {
  const { fake, client, now, tokens } = await loggedIn('ahead', { client: { clockSkewMs: 120_000 } });
  now.advance(tokens.expiresAt - now() - 120_001);
  assert.equal(await client.getAccessToken(), tokens.accessToken);
  assert.equal(fake.grants('refresh_token').length, 0);
  now.advance(2);
  const fresh = await client.getAccessToken();
  assert.notEqual(fresh, tokens.accessToken);
  assert.equal(fake.grants('refresh_token').length, 1);
  assert.equal((await userinfo(fresh)).status, 200);
});

describe('a refresh answer lost in transit', () => {
  let grace;
  before(async () => {
    grace = await startLocalServer({ REFRESH_REUSE_GRACE: '30' });
  });
  after(() => grace && grace.stop());

  test('within REFRESH_REUSE_GRACE: the retry succeeds, no new login, and the lost token is dead', async () => {
    const { fake, client, now, tokens } = await loggedIn('lost-grace', { baseUrl: grace.url });
    const first = stored(fake).refreshToken;
    now.advance(EXPIRED);
    fake.loseAnswer(isRefresh);
    const fresh = await client.getAccessToken();
    const sent = fake.grants('refresh_token');
    assert.equal(sent.length, 2, 'the lost one and its retry');
    assert.deepEqual(sent.map(refreshTokenOf), [first, first], 'the retry presents the same refresh token');
    assert.equal(fake.lost.length, 1);
    assert.equal(fake.lost[0].answer.statusCode, 200, 'the server did rotate it: only the answer was lost');
    assert.equal(fake.logins, 1, 'no new login');
    assert.notEqual(fresh, tokens.accessToken);
    assert.equal((await userinfo(fresh)).status, 200);
    const current = stored(fake).refreshToken;
    assert.notEqual(current, first);

    // The family goes on with the token the retry got.
    now.advance(EXPIRED);
    await client.getAccessToken();
    assert.equal(fake.grants('refresh_token').length, 3);
    assert.equal(fake.logins, 1);

    // The successor in the lost answer was retired by the retry: whoever picks it up trips
    // reuse detection, which ends the family (the SDK then logs in once).
    const lostToken = fake.lost[0].answer.data.refresh_token;
    const reused = await refreshDirectly(lostToken, grace.url);
    assert.deepEqual([reused.status, reused.json.error], [400, 'invalid_grant']);
    now.advance(EXPIRED);
    assert.equal((await client.request({ url: '/userinfo' })).statusCode, 200);
    assert.equal(fake.logins, 2);
  });

  test('with strict rotation (no grace): the retry trips reuse detection, and the SDK logs in exactly once', async () => {
    const { fake, client, now, tokens } = await loggedIn('lost-strict');
    const first = stored(fake).refreshToken;
    now.advance(EXPIRED);
    fake.loseAnswer(isRefresh);
    const fresh = await client.getAccessToken();
    assert.deepEqual(fake.grants('refresh_token').map(refreshTokenOf), [first, first]);
    assert.equal(fake.logins, 2, 'one fresh login, no error, no logout');
    assert.equal(fake.grants(WECHAT_GRANT).length, 2);
    assert.notEqual(fresh, tokens.accessToken);
    assert.equal((await userinfo(fresh)).status, 200);
    assert.ok(stored(fake).refreshToken);
    // Nobody can use the lost successor: the family it belonged to is revoked.
    const lost = await refreshDirectly(fake.lost[0].answer.data.refresh_token);
    assert.deepEqual([lost.status, lost.json.error], [400, 'invalid_grant']);
  });

  test('a refresh that never reached the server is simply sent again', async () => {
    const { fake, client, now } = await loggedIn('unsent');
    now.advance(EXPIRED);
    let dropped = false;
    fake.goOffline((call) => isRefresh(call) && !dropped && (dropped = true));
    await client.getAccessToken();
    assert.equal(fake.grants('refresh_token').length, 2);
    assert.equal(fake.logins, 1);
  });
});

test('a family revoked behind the SDK\'s back: exactly one fresh login for all callers', async () => {
  const { fake, client, now, name } = await loggedIn('revoked');
  const revoked = await revokeDirectly(stored(fake).refreshToken);
  assert.equal(revoked.status, 200);
  now.advance(EXPIRED);
  const results = await Promise.all(Array.from({ length: 10 }, () => client.request({ url: '/userinfo' })));
  assert.ok(results.every((r) => r.statusCode === 200 && r.data.openid === `openid-${name}`));
  assert.equal(fake.grants('refresh_token').length, 1);
  assert.equal(fake.logins, 2);
});

test('invalid_grant on refresh and a login that fails too: the error surfaces, no loop', async () => {
  const { fake, client, now } = await loggedIn('no-loop', { codes: [null, 'err-40029'] });
  await revokeDirectly(stored(fake).refreshToken);
  now.advance(EXPIRED);
  await assert.rejects(client.getAccessToken(), (e) => e.error === 'invalid_grant' && e.status === 400);
  assert.equal(fake.grants('refresh_token').length, 1);
  assert.equal(fake.grants(WECHAT_GRANT).length, 2);
  assert.equal(stored(fake), null);
});

test('401 invalid_token (the access token was revoked): one refresh, each request retried once', async () => {
  const { fake, client, tokens } = await loggedIn('denied');
  assert.equal((await revokeDirectly(tokens.accessToken, 'access_token')).status, 200);
  assert.equal((await userinfo(tokens.accessToken)).status, 401);
  const results = await Promise.all(Array.from({ length: 10 }, () => client.request({ url: '/userinfo' })));
  assert.ok(results.every((r) => r.statusCode === 200));
  assert.equal(fake.grants('refresh_token').length, 1);
  const sent = fake.to('/userinfo').map((c) => c.header.authorization);
  const fresh = client.getTokens().accessToken;
  assert.equal(sent.filter((h) => h === `Bearer ${tokens.accessToken}`).length, 10);
  assert.equal(sent.filter((h) => h === `Bearer ${fresh}`).length, 10);
  assert.equal(fake.logins, 1);
});

// Token expiry with a fake clock: the skew margin, its cap for short-lived tokens, clocks that
// go back, and what a token response becomes in storage.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { needsRefresh, fromTokenResponse, TokenStore, storageKey } = require('../../src/token-store.js');

const T0 = 1_700_000_000_000;
const SKEW = 60_000;
const record = (lifetimeS) =>
  fromTokenResponse({ access_token: 'at', expires_in: lifetimeS, refresh_token: 'rt' }, T0, null);

test('a token is refreshed once it is within the skew margin of its expiry, not before', () => {
  const t = record(900);
  assert.equal(t.expiresAt, T0 + 900_000);
  assert.equal(needsRefresh(t, T0, SKEW), false);
  assert.equal(needsRefresh(t, t.expiresAt - SKEW - 1, SKEW), false);
  assert.equal(needsRefresh(t, t.expiresAt - SKEW, SKEW), true);
  assert.equal(needsRefresh(t, t.expiresAt + 1, SKEW), true);
});

test('the margin is capped at half the lifetime, so short-lived tokens are not refreshed on every call', () => {
  const t = record(60); // as long as the margin itself
  assert.equal(needsRefresh(t, T0 + 29_999, SKEW), false);
  assert.equal(needsRefresh(t, T0 + 30_000, SKEW), true);
});

test('a clock that went back before the token was issued refreshes it', () => {
  const t = record(900);
  assert.equal(needsRefresh(t, T0 - 1, SKEW), true);
});

test('without expires_in the token is used until the server refuses it', () => {
  const t = fromTokenResponse({ access_token: 'at' }, T0, null);
  assert.equal(t.expiresAt, null);
  assert.equal(needsRefresh(t, T0 + 10 * 86_400_000, SKEW), false);
  assert.equal(needsRefresh(null, T0, SKEW), true, 'no tokens at all');
});

test('a refresh answer keeps what it leaves out (openid, unionid) and the lifetime counts from the request', () => {
  const first = fromTokenResponse(
    { access_token: 'a1', expires_in: 900, refresh_token: 'r1', openid: 'o', unionid: 'u', scope: 'openid' },
    T0,
    null,
  );
  const next = fromTokenResponse({ access_token: 'a2', expires_in: 900, scope: 'openid' }, T0 + 5000, first);
  assert.equal(next.refreshToken, 'r1', 'a server that does not rotate keeps the old refresh token');
  assert.deepEqual([next.openid, next.unionid, next.issuedAt, next.expiresAt], ['o', 'u', T0 + 5000, T0 + 905_000]);
  assert.throws(() => fromTokenResponse({ token_type: 'Bearer' }, T0, null), { name: 'WxAuthError', error: 'invalid_response' });
});

test('the store keeps tokens per client id and ignores what it cannot read', () => {
  const map = new Map();
  const storage = {
    getStorageSync: (k) => (map.has(k) ? map.get(k) : ''),
    setStorageSync: (k, v) => map.set(k, JSON.parse(JSON.stringify(v))),
    removeStorageSync: (k) => map.delete(k),
  };
  const a = new TokenStore(storage, 'app-a');
  const b = new TokenStore(storage, 'app-b');
  assert.equal(a.load(), null, "WeChat's '' for a missing key");
  assert.equal(a.save(record(900)), true);
  assert.equal(a.load().accessToken, 'at');
  assert.equal(b.load(), null, 'another client id sees nothing');
  assert.equal(storageKey('app-a'), 'wxauth:app-a:tokens');
  map.set(storageKey('app-b'), '{not json');
  assert.equal(b.load(), null);
  map.set(storageKey('app-b'), JSON.stringify(record(900)));
  assert.equal(b.load().accessToken, 'at', 'a JSON string copy is read');
  map.set(storageKey('app-b'), { accessToken: 'x' });
  assert.equal(b.load(), null, 'a record of another format');
  a.clear();
  assert.equal(a.load(), null);
  const full = new TokenStore({ ...storage, setStorageSync: () => { throw new Error('storage full'); } }, 'c');
  assert.equal(full.save(record(900)), false, 'a failed write is reported, not thrown');
});

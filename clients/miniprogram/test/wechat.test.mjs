// WeChat data through the SDK against the local stack: encryptedData encrypted here with the
// mock WeChat's session key (base64(sha256("mock-wechat session key:" + name)[..16]), as
// tests/tests/wechat_data.rs does) or with another key, the session check, and phone numbers.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { WxAuthError } from '../index.mjs';
import { encryptProfile, loggedOutClient, mockSessionKey, renewSessionKeyAtWechat } from './support/stack.mjs';

async function loggedIn(label) {
  const setup = loggedOutClient(label);
  await setup.client.login();
  return setup;
}

const paths = (fake) => fake.calls.map((c) => new URL(c.url).pathname);

test('decrypt: data encrypted under the session key decrypts; a signed rawData authenticates it', async () => {
  const { name, fake, client } = await loggedIn('decrypt');
  const profile = encryptProfile(mockSessionKey(name), { nickName: 'Ann', gender: 2 });
  const signed = await client.decrypt(profile);
  assert.equal(signed.data.nickName, 'Ann');
  assert.equal(signed.authenticated, true);
  const decrypt = fake.to('/wechat/decrypt')[0];
  assert.deepEqual(Object.keys(JSON.parse(decrypt.body)), ['encrypted_data', 'iv', 'raw_data', 'signature']);
  assert.equal(decrypt.header['content-type'], 'application/json');
  assert.deepEqual(paths(fake).slice(-2), ['/wechat/session', '/wechat/decrypt'], 'the session is checked first');

  const bare = await client.decrypt({ encryptedData: profile.encryptedData, iv: profile.iv });
  assert.equal(bare.authenticated, false, 'nothing vouches for data without rawData');
  await assert.rejects(
    client.decrypt({ encryptedData: profile.encryptedData, iv: profile.iv, requireSignature: true }),
    (e) => e.error === 'invalid_request' && e.status === 400,
  );
  assert.equal(fake.logins, 1);
});

test('decrypt: data under a key that is not the session key → invalid_session_key → one new login, then session_key_renewed', async () => {
  const { name, fake, client } = await loggedIn('stale');
  const before = client.getTokens().accessToken;
  const foreign = encryptProfile(randomBytes(16).toString('base64'), { nickName: 'Bob' });
  await assert.rejects(client.decrypt(foreign), (e) => {
    assert.ok(e instanceof WxAuthError);
    assert.equal(e.error, 'session_key_renewed');
    return true;
  });
  assert.equal(fake.to('/wechat/decrypt').length, 1);
  assert.equal(fake.logins, 2, 'logged in again: a new session key');
  assert.notEqual(client.getTokens().accessToken, before);
  // The mini program asks WeChat for the data again: now under the new session key.
  const fresh = encryptProfile(mockSessionKey(`${name}~1`), { nickName: 'Bob' });
  assert.equal((await client.decrypt(fresh)).data.nickName, 'Bob');
  assert.equal(fake.logins, 2);
});

test('decrypt: a session key WeChat no longer holds (valid: false) → a new login before any data is sent', async () => {
  const { name, fake, client } = await loggedIn('renewed');
  await renewSessionKeyAtWechat(`${name}~elsewhere`);
  const data = encryptProfile(mockSessionKey(`${name}~elsewhere`), { nickName: 'Cy' });
  await assert.rejects(client.decrypt(data), (e) => e.error === 'session_key_renewed');
  assert.equal(fake.to('/wechat/decrypt').length, 0, 'the data was never sent');
  assert.equal(fake.logins, 2);
  const fresh = encryptProfile(mockSessionKey(`${name}~1`), { nickName: 'Cy' });
  assert.equal((await client.decrypt(fresh)).data.nickName, 'Cy');
});

test('decrypt without encryptedData or iv is refused before any request', async () => {
  const { fake, client } = await loggedIn('args');
  const calls = fake.calls.length;
  await assert.rejects(client.decrypt({ iv: 'x' }), (e) => e.error === 'invalid_argument');
  assert.equal(fake.calls.length, calls);
});

test('phoneNumber: the phone button\'s code gives the number, which userinfo then shows', async () => {
  const { fake, client } = await loggedIn('phone');
  // A phone code works once per app: a number of this run's own.
  const digits = `139${String(randomBytes(4).readUInt32BE()).padStart(10, '0').slice(-8)}`;
  const phone = await client.phoneNumber(`phone-${digits}`);
  assert.deepEqual(phone, { phone_number: digits, pure_phone_number: digits, country_code: '86' });
  assert.deepEqual(JSON.parse(fake.to('/wechat/phone')[0].body), { code: `phone-${digits}` });
  const me = await client.request({ url: '/userinfo' });
  assert.equal(me.data.phone_number, digits);
  await assert.rejects(client.phoneNumber(`phone-${digits}`), (e) => e.error === 'invalid_request' && e.status === 400);
});

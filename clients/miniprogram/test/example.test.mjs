// examples/miniprogram run as the WeChat runtime would run it — App(), Page(), getApp(), a global
// wx, and require('wxauth-miniprogram') resolved to this package as miniprogram_npm provides it —
// against the local stack: the page signs in, calls /userinfo, takes a phone number, decrypts
// WeRun data (again after a stale session key), and signs out.

import assert from 'node:assert/strict';
import Module, { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createFakeWx } from './support/fake-wx.mjs';
import { BASE, CLIENT_ID, encryptData, mockSessionKey, renewSessionKeyAtWechat, stored, uniqueName } from './support/stack.mjs';

const require = createRequire(import.meta.url);
const example = fileURLToPath(new URL('../../../examples/miniprogram/', import.meta.url));
const packageMain = require.resolve('../src/index.js');

const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  return request === 'wxauth-miniprogram' ? packageMain : resolve.call(this, request, ...rest);
};
after(() => {
  Module._resolveFilename = resolve;
});

test('the example mini program signs in, calls /userinfo, shows the phone button\'s number, decrypts WeRun data, signs out', async () => {
  const name = uniqueName('example');
  const fake = createFakeWx({ name });
  // WeChat encrypts a user's data under the session key it holds now: the latest login's.
  let latest = name;
  const login = fake.wx.login;
  fake.wx.login = (options) =>
    login({
      ...options,
      success: (res) => {
        latest = res.code.slice('ok-'.length);
        options.success(res);
      },
    });
  let weRunCalls = 0;
  fake.wx.getWeRunData = ({ success }) => {
    weRunCalls += 1;
    const today = Math.floor(Date.now() / 86_400_000) * 86_400;
    setTimeout(() => success(encryptData(mockSessionKey(latest), { stepInfoList: [{ timestamp: today, step: 4321 }] })), 1);
  };

  // The runtime: globals, the config pointed at the stack, then app.js and the page.
  let app;
  let pageDefinition;
  Object.assign(globalThis, {
    wx: fake.wx,
    App: (definition) => {
      app = definition;
    },
    getApp: () => app,
    Page: (definition) => {
      pageDefinition = definition;
    },
  });
  const config = new Module(`${example}config.js`);
  config.filename = `${example}config.js`;
  config.loaded = true;
  config.exports = { baseUrl: BASE, clientId: CLIENT_ID };
  require.cache[config.filename] = config;
  require(`${example}app.js`);
  app.onLaunch();
  await app.ready;
  assert.equal(fake.logins, 1, 'the app signed in on launch');

  require(`${example}pages/index/index.js`);
  const page = Object.create(pageDefinition);
  page.data = structuredClone(pageDefinition.data);
  page.setData = (changes) => Object.assign(page.data, changes);

  await page.onLoad();
  assert.equal(page.data.error, '');
  assert.equal(page.data.status, 'signed in');
  assert.equal(page.data.user.openid, `openid-${name}`);

  const digits = `137${String(randomBytes(4).readUInt32BE()).padStart(10, '0').slice(-8)}`;
  await page.onGetPhoneNumber({ detail: { code: `phone-${digits}`, errMsg: 'getPhoneNumber:ok' } });
  assert.equal(page.data.phone, digits);
  await page.onGetPhoneNumber({ detail: { errMsg: 'getPhoneNumber:fail user deny' } });
  assert.match(page.data.error, /user deny/);

  await page.onWeRun();
  assert.deepEqual([page.data.steps, page.data.error, weRunCalls], [4321, '', 1]);

  // WeChat now holds another session key: the page's first decrypt meets session_key_renewed,
  // and it asks for the data again.
  await renewSessionKeyAtWechat(`${name}~elsewhere`);
  latest = `${name}~elsewhere`;
  page.setData({ steps: null });
  await page.onWeRun();
  assert.deepEqual([page.data.steps, page.data.error, weRunCalls, fake.logins], [4321, '', 3, 2]);

  await page.onLogout();
  assert.equal(page.data.status, 'signed out');
  assert.equal(stored(fake), null);
  assert.equal(fake.to('/oauth/revoke').length, 1);
});

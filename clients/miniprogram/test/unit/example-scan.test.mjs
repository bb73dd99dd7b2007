// examples/miniprogram's scan page (pages/scan/scan: scan to sign in on a computer) run as the
// WeChat runtime would run it — App(), Page(), getApp(), a global wx, require('wxauth-miniprogram')
// resolved to this package — with a scripted wx in place of the server: the confirmation, its
// answers, and the message for each failure. And every page app.json names has its four files
// and the handlers its WXML binds.

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { after, before, beforeEach, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { oauthError, scriptedWx, tokenBody } from '../support/scripted-wx.mjs';

const require = createRequire(import.meta.url);
const example = fileURLToPath(new URL('../../../../examples/miniprogram/', import.meta.url));
const packageMain = require.resolve('../../src/index.js');
const BASE = 'https://auth.example.test';
const TICKET = '0123456789abcdef0123456789abcdef';

const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  return request === 'wxauth-miniprogram' ? packageMain : resolve.call(this, request, ...rest);
};
after(() => {
  Module._resolveFilename = resolve;
});

// What /wechat/scan answers, per test: (call, n) => an answer for scriptedWx, n counting from 1.
let scan;
let scanCalls;
let issued = 0;
const fake = scriptedWx((call) => {
  if (call.path === '/oauth/token') return tokenBody(++issued);
  if (call.path === '/wechat/scan') {
    scanCalls.push(call.json);
    return scan(call, scanCalls.length);
  }
  return { status: 404, body: '' };
});
const WINDOWS_CHROME = { browser: 'Chrome', os: 'Windows', ip: '203.0.113.*', same_network: true };
const reply = (status, scopes = ['openid', 'profile'], requested_from = WINDOWS_CHROME) => ({
  status: 200,
  body: { status, client_name: 'Demo Web', scopes, expires_in: 287, requested_from },
});
const answering = (call) => reply({ scanned: 'scanned', approve: 'approved', deny: 'denied' }[call.json.action]);

let app;
const definitions = {};
let loading = '';
before(async () => {
  Object.assign(globalThis, {
    wx: fake.wx,
    App: (definition) => {
      app = definition;
    },
    getApp: () => app,
    Page: (definition) => {
      definitions[loading] = definition;
    },
  });
  const config = new Module(`${example}config.js`);
  config.filename = `${example}config.js`;
  config.loaded = true;
  config.exports = { baseUrl: BASE, clientId: 'demo-miniprogram' };
  require.cache[config.filename] = config;
  require(`${example}app.js`);
  app.onLaunch();
  await app.ready;
  for (const page of JSON.parse(readFileSync(`${example}app.json`, 'utf8')).pages) {
    loading = page;
    require(`${example}${page}.js`);
  }
});

beforeEach(() => {
  scan = answering;
  scanCalls = [];
});

function open(path = 'pages/scan/scan') {
  const definition = definitions[path];
  const page = Object.create(definition);
  page.data = structuredClone(definition.data);
  page.setData = (changes) => Object.assign(page.data, changes);
  return page;
}

const shown = (page) => ({ state: page.data.state, message: page.data.message, canRetry: page.data.canRetry });

test('every page in app.json has its four files, a Page(), and the handlers its WXML binds', () => {
  const pages = JSON.parse(readFileSync(`${example}app.json`, 'utf8')).pages;
  assert.ok(pages.includes('pages/scan/scan'));
  for (const page of pages) {
    for (const ext of ['js', 'wxml', 'wxss', 'json']) assert.ok(existsSync(`${example}${page}.${ext}`), `${page}.${ext}`);
    JSON.parse(readFileSync(`${example}${page}.json`, 'utf8'));
    assert.equal(typeof definitions[page], 'object', `${page}.js calls Page()`);
    const wxml = readFileSync(`${example}${page}.wxml`, 'utf8');
    for (const [, handler] of wxml.matchAll(/\b(?:bind|catch):?[a-z]+="([A-Za-z_$][\w$]*)"/g)) {
      assert.equal(typeof definitions[page][handler], 'function', `${page}: ${handler}`);
    }
  }
});

test('scanned: the page shows the website and what it gets, in Chinese; 确认登录 approves', async () => {
  const page = open();
  assert.equal(page.data.state, 'loading');
  await page.onLoad({ scene: encodeURIComponent(TICKET) });
  assert.equal(page.data.state, 'confirm');
  assert.equal(page.data.clientName, 'Demo Web');
  assert.deepEqual(page.data.scopes.map((s) => s.label), ['你的账号标识', '昵称和头像']);
  assert.equal(page.data.requester, 'Windows 上的 Chrome · 203.0.113.*');
  assert.equal(page.data.otherNetwork, false);
  await page.onApprove();
  assert.deepEqual(shown(page), { state: 'approved', message: '', canRetry: false });
  assert.deepEqual(scanCalls, [
    { scene: TICKET, action: 'scanned' },
    { scene: TICKET, action: 'approve' },
  ]);
  assert.ok(fake.calls.filter((c) => c.path === '/wechat/scan').every((c) => c.header.Authorization === 'Bearer at-1'));
  const wxml = readFileSync(`${example}pages/scan/scan.wxml`, 'utf8');
  for (const text of ['在电脑上登录 {{clientName}}？', '请求来自：{{requester}}', '确认登录', '取消', '已登录，可以回到电脑上了', '已取消']) {
    assert.ok(wxml.includes(text), text);
  }
});

test('every scope is described, unknown ones by their name', async () => {
  scan = () => reply('scanned', ['openid', 'profile', 'phone', 'offline_access', 'orders:read']);
  const page = open();
  await page.onLoad({ scene: TICKET });
  assert.deepEqual(page.data.scopes, [
    { name: 'openid', label: '你的账号标识' },
    { name: 'profile', label: '昵称和头像' },
    { name: 'phone', label: '手机号' },
    { name: 'offline_access', label: '保持登录' },
    { name: 'orders:read', label: 'orders:read' },
  ]);
});

test('the computer asking is named as far as known, with a warning only for another network', async () => {
  const cases = [
    [{ browser: 'Edge', os: 'Windows', ip: '198.51.100.*', same_network: false }, 'Windows 上的 Edge · 198.51.100.*', true],
    [{ browser: 'QQ Browser' }, 'QQ Browser', false],
    [{ os: 'macOS', ip: '2001:db8::/64' }, 'macOS · 2001:db8::/64', false],
    [{}, '未知的浏览器', false],
    ['absent', '未知的浏览器', false], // an older server's answer
  ];
  for (const [from, requester, otherNetwork] of cases) {
    const answer = reply('scanned', ['openid'], from);
    if (from === 'absent') delete answer.body.requested_from;
    scan = () => answer;
    const page = open();
    await page.onLoad({ scene: TICKET });
    assert.deepEqual([page.data.requester, page.data.otherNetwork], [requester, otherNetwork], requester);
  }
  const wxml = readFileSync(`${example}pages/scan/scan.wxml`, 'utf8');
  assert.match(wxml, /wx:if="\{\{otherNetwork\}\}"[^>]*>这台电脑与你的手机不在同一网络/);
});

test('取消 denies', async () => {
  const page = open();
  await page.onLoad({ scene: TICKET });
  await page.onDeny();
  assert.deepEqual(shown(page), { state: 'denied', message: '', canRetry: false });
  assert.deepEqual(scanCalls.map((c) => c.action), ['scanned', 'deny']);
});

test('an expired code, and one another user scanned, say so, without a retry', async () => {
  scan = () => ({ status: 400, body: { error: 'invalid_grant', error_description: 'this code expired or was answered already: show a new one' } });
  let page = open();
  await page.onLoad({ scene: TICKET });
  assert.deepEqual(shown(page), { state: 'error', message: '二维码已过期，请在电脑上刷新', canRetry: false });

  scan = () => ({ status: 400, body: { error: 'invalid_request', error_description: 'another user scanned this code' } });
  page = open();
  await page.onLoad({ scene: TICKET });
  assert.deepEqual(shown(page), { state: 'error', message: '该二维码已被其他微信用户扫描', canRetry: false });
});

test('a code that expires while the user decides: 确认登录 says it expired', async () => {
  scan = (call) => (call.json.action === 'scanned' ? answering(call) : oauthError(400, 'invalid_grant'));
  const page = open();
  await page.onLoad({ scene: TICKET });
  await page.onApprove();
  assert.deepEqual(shown(page), { state: 'error', message: '二维码已过期，请在电脑上刷新', canRetry: false });
});

test('the other failures have their messages', async () => {
  const cases = [
    [oauthError(400, 'invalid_request'), '无法使用这个二维码，请在电脑上刷新后重新扫码', false],
    [oauthError(403, 'access_denied'), '这个小程序不能用于该网站的扫码登录', false],
    [oauthError(403, 'insufficient_scope'), '这个小程序不能用于该网站的扫码登录', false],
    [oauthError(503, 'temporarily_unavailable'), '服务繁忙，请稍后重试', true],
    ['network', '网络不可用，请检查网络后重试', true],
    [{ status: 500, body: 'oops' }, '出错了：http_error（HTTP 500）', true],
  ];
  for (const [answer, message, canRetry] of cases) {
    scan = () => answer;
    const page = open();
    await page.onLoad({ scene: TICKET });
    assert.deepEqual(shown(page), { state: 'error', message, canRetry }, message);
  }
});

test('a page opened without a scene, or with one no sign-in code carries, asks for the computer\'s code', async () => {
  for (const options of [undefined, {}, { scene: 'x'.repeat(40) }]) {
    const page = open();
    await page.onLoad(options);
    assert.deepEqual(shown(page), { state: 'error', message: '这不是登录二维码，请在电脑上扫描登录页的二维码', canRetry: false });
  }
  assert.deepEqual(scanCalls, []);
});

test('offline: 重试 repeats the step that failed', async () => {
  scan = (call, n) => (n === 2 ? 'network' : answering(call));
  const page = open();
  await page.onLoad({ scene: TICKET });
  await page.onApprove();
  assert.deepEqual(shown(page), { state: 'error', message: '网络不可用，请检查网络后重试', canRetry: true });
  await page.onRetry();
  assert.deepEqual(shown(page), { state: 'approved', message: '', canRetry: false });
  assert.deepEqual(scanCalls.map((c) => c.action), ['scanned', 'approve', 'approve']);
});

test('a second tap while an answer is on its way sends nothing', async () => {
  const page = open();
  await page.onLoad({ scene: TICKET });
  await Promise.all([page.onApprove(), page.onApprove(), page.onDeny()]);
  assert.equal(page.data.state, 'approved');
  assert.deepEqual(scanCalls.map((c) => c.action), ['scanned', 'approve']);
});

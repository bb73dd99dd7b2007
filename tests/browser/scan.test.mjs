// Scan with the mini program in a real browser (Debian's headless Chromium, playwright-core)
// against the local server and the mock WeChat: the desktop sign-in page shows demo-miniprogram's
// code (made by the mock's getwxacodeunlimit); the phone's side is the mini-program SDK
// (wxauth-miniprogram, over a `wx` that talks HTTP to the same stack) logged in as a mini-program
// user, who scans (inspect), then approves or denies; the page learns it by polling and the
// browser lands at demo-web signed in as that user. Run by scripts/test:
//
//   WXAUTH_LOCAL_URL=http://127.0.0.1:PORT WECHAT_API_BASE=http://127.0.0.1:PORT node --test tests/browser/

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createClient } from '../../clients/miniprogram/index.mjs';
import { createFakeWx } from '../../clients/miniprogram/test/support/fake-wx.mjs';
import {
  ARTIFACTS, BASE, DESKTOP, PHONE, authorizeRequest as supportRequest, chromiumSession, claimsOf, idClaims as landedClaims,
} from './support.mjs';

const WECHAT = (process.env.WECHAT_API_BASE ?? '').replace(/\/+$/, '');
const APPID = 'wxdemoappid000001';
const SCAN_PAGE = 'pages/scan/scan';
const WAIT_MS = 8_000;
const TEST_MS = 40_000;

/** A fresh authorization request of demo-web for `openid profile`. */
const authorizeRequest = () => supportRequest({ scope: 'openid profile' });

/** The ID token's claims of the code on the /demo/callback page `page` landed on. */
const idClaims = (page, state, verifier) => landedClaims(page, state, verifier, { waitMs: WAIT_MS });

/** A mini-program user signed in through the SDK: the SDK client and their `sub`. */
async function phoneUser(label) {
  const { wx } = createFakeWx({ name: `scan${randomBytes(6).toString('hex')}${label}` });
  const client = createClient({ baseUrl: BASE, clientId: 'demo-miniprogram', wx });
  const tokens = await client.login();
  return { client, sub: claimsOf(tokens.accessToken).sub };
}

/**
 * The scene of the code on `page`, as the phone reads it: the mock WeChat recorded every code it
 * made for demo-miniprogram, newest first; the page's own is the one whose scene is its ticket.
 */
async function sceneOnPage(page) {
  const ticket = (await page.locator('#scan').getAttribute('data-status')).split('/').pop();
  const res = await fetch(`${WECHAT}/mock/wxacodes?appid=${APPID}`);
  const made = (await res.json()).find((code) => code.scene === ticket);
  assert.ok(made, `the mock WeChat made the code of ticket ${ticket}`);
  assert.equal(made.page, SCAN_PAGE);
  return made.scene;
}

describe('Scan with the mini program in Chromium', { timeout: 4 * TEST_MS }, () => {
  const chromium = chromiumSession({ waitMs: WAIT_MS });
  const newPage = chromium.newPage;
  before(() => {
    assert.ok(WECHAT, 'WECHAT_API_BASE must name the mock WeChat (scripts/test exports it)');
    return chromium.launch();
  });
  after(chromium.close);

  test('on a desktop: scanned, approved in the mini program, signed in as its user', { timeout: TEST_MS }, async () => {
    const { client, sub } = await phoneUser('a');
    const page = await newPage({ viewport: DESKTOP });
    // Script errors, CSP refusals, and failed loads of ours (the favicon Chromium asks for is not
    // ours to serve).
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => m.type() === 'error' && !m.text().startsWith('Failed to load resource') && errors.push(m.text()));
    page.on('response', (r) => r.status() >= 400 && !r.url().endsWith('/favicon.ico') && errors.push(`${r.status()} ${r.url()}`));
    const request = authorizeRequest();
    await page.goto(request.url);
    const image = page.locator('#scan img');
    await image.waitFor();
    assert.ok(await image.evaluate((img) => img.complete && img.naturalWidth > 0), 'the code image loaded');
    assert.equal(await page.locator('input[name="password"]').count(), 1, 'the password stays on offer');
    await page.screenshot({ path: `${ARTIFACTS}scan-en-desktop.png`, fullPage: true });

    const scene = await sceneOnPage(page);
    const shown = await client.scan.inspect(scene);
    assert.equal(shown.status, 'scanned');
    assert.equal(shown.client_name, 'Demo web app');
    assert.deepEqual(shown.scopes, ['openid', 'profile']);
    // The computer asking, as the phone's user can recognise it: Chromium on this machine's
    // loopback, where the SDK asks from too.
    assert.deepEqual(shown.requested_from, { browser: 'Chrome', os: 'Linux', ip: '127.0.0.*', same_network: true });
    // The page learns of the scan by itself.
    await page.locator('[data-scan="scanned"]').waitFor({ state: 'visible' });
    assert.match(await page.locator('[data-scan="scanned"]').textContent(), /Confirm in the mini program/);

    assert.equal((await client.scan.approve(scene)).status, 'approved');
    const claims = await idClaims(page, request.state, request.verifier);
    assert.equal(claims.sub, sub, 'signed in as the mini program\'s user');
    assert.deepEqual(claims.amr, ['mini_program_scan']);
    assert.deepEqual(errors, [], 'no script or CSP errors');
  });

  test('denied in the mini program (zh-CN, phone-sized): the page says so and offers a new code', { timeout: TEST_MS }, async () => {
    const { client } = await phoneUser('d');
    const page = await newPage({ viewport: PHONE, locale: 'zh-CN' });
    await page.goto(authorizeRequest().url);
    assert.equal(await page.locator('html').getAttribute('lang'), 'zh-CN');
    const scene = await sceneOnPage(page);
    assert.equal((await client.scan.deny(scene)).status, 'denied');
    const denied = page.locator('[data-scan="denied"]');
    await denied.waitFor({ state: 'visible' });
    assert.equal(await denied.textContent(), '已在小程序中取消登录。');
    assert.equal(await page.locator('#scan img').isVisible(), false, 'the used code is gone');
    await page.screenshot({ path: `${ARTIFACTS}scan-denied-zh-CN-phone.png`, fullPage: true });
    // A new code for the same sign-in.
    await page.locator('button[name="scan"]').click();
    await page.locator('#scan img').waitFor({ state: 'visible' });
    const again = await sceneOnPage(page);
    assert.notEqual(again, scene);
    await assert.rejects(client.scan.approve(scene), (e) => e.error === 'invalid_grant', 'the denied code stays denied');
  });

  test('a code that can no longer be used says it expired', { timeout: TEST_MS }, async () => {
    const page = await newPage({ viewport: DESKTOP });
    await page.goto(authorizeRequest().url);
    await page.locator('#scan img').waitFor();
    // Without the browser's binding cookie the ticket answers as an expired one would.
    await page.context().clearCookies({ name: 'wxauth_wechat' });
    const expired = page.locator('[data-scan="expired"]');
    await expired.waitFor({ state: 'visible' });
    assert.equal(await expired.textContent(), 'This code has expired.');
  });

  test('without JavaScript: the link waits for the phone, then signs in', { timeout: TEST_MS }, async () => {
    const { client, sub } = await phoneUser('n');
    const page = await newPage({ viewport: DESKTOP, javaScriptEnabled: false });
    const request = authorizeRequest();
    await page.goto(request.url);
    const scene = await sceneOnPage(page);
    await client.scan.inspect(scene);
    await page.locator('#scan a').click();
    await page.waitForURL((u) => u.pathname.endsWith('/continue'));
    assert.match(await page.locator('p[role="status"]').textContent(), /Confirm in the mini program/);
    await client.scan.approve(scene);
    // The waiting page looks again by itself (meta refresh) and goes on.
    assert.equal((await idClaims(page, request.state, request.verifier)).sub, sub);
  });
});

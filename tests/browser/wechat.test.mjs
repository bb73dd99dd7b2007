// Sign in with WeChat on the web in a real browser (Debian's headless Chromium, playwright-core)
// against the local server and the mock WeChat's authorization pages: inside WeChat (its
// User-Agent) through the Official Account, silently on the second visit; on a desktop through
// the website app's QR link; each ending at demo-web with a code whose ID token's `sub` is the
// mini program's user of the same person (mock code ok-<name>.u). Run by scripts/test:
//
//   WXAUTH_LOCAL_URL=http://127.0.0.1:PORT node --test tests/browser/

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  ARTIFACTS, DESKTOP, PHONE, authorizeRequest as supportRequest, chromiumSession, claimsOf, idClaims, postForm,
} from './support.mjs';

const WAIT_MS = 5_000;
const TEST_MS = 30_000;
const IN_WECHAT = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN';

/** A fresh authorization request of demo-web for `openid profile`. */
const authorizeRequest = () => supportRequest({ scope: 'openid profile' });

/** The `sub` the mini program demo-miniprogram gives the person whose login code is `code`. */
async function miniProgramSub(code) {
  const tokens = await postForm('/oauth/token', {
    grant_type: 'urn:wxauth:grant-type:wechat-code', client_id: 'demo-miniprogram', code,
  });
  return claimsOf(tokens.access_token).sub;
}

/** At the mock WeChat's authorization page: approves as `user`. */
async function approveAtWechat(page, user, path) {
  await page.waitForURL((u) => u.pathname === path, { timeout: WAIT_MS });
  await page.locator('input[name="user"]').fill(user);
  await page.locator('button[name="approve"]').click();
}

describe('Sign in with WeChat on the web in Chromium', { timeout: 4 * TEST_MS }, () => {
  const chromium = chromiumSession({ waitMs: WAIT_MS });
  const newPage = chromium.newPage;
  before(chromium.launch);
  after(chromium.close);

  test('inside WeChat: snsapi_base, then snsapi_userinfo for a new openid, consent, and silent the second time', { timeout: TEST_MS }, async () => {
    const name = `ann${randomBytes(6).toString('hex')}`;
    const sub = await miniProgramSub(`ok-${name}.u`);
    const page = await newPage({ userAgent: IN_WECHAT, viewport: PHONE, locale: 'zh-CN' });
    const first = authorizeRequest();
    await page.goto(first.url);
    // No page of ours: straight to WeChat's silent authorization, then its profile consent.
    await approveAtWechat(page, `${name}.u`, '/connect/oauth2/authorize');
    await page.waitForURL((u) => u.pathname === '/connect/oauth2/authorize' && u.searchParams.get('scope') === 'snsapi_userinfo');
    await page.locator('button[name="approve"]').click();
    // Back at ours: the consent page for the new session, in Chinese, named by the nickname.
    await page.waitForURL((u) => u.pathname === '/oauth/wechat/callback');
    assert.equal(await page.locator('html').getAttribute('lang'), 'zh-CN');
    assert.match(await page.locator('p.signed-in').textContent(), new RegExp(name));
    assert.equal(await page.locator('input[name="password"]').count(), 0);
    await page.screenshot({ path: `${ARTIFACTS}wechat-consent-zh-CN-phone.png`, fullPage: true });
    await page.locator('button[value="approve"]').click();
    assert.equal((await idClaims(page, first.state, first.verifier)).sub, sub, 'the mini program\'s user');

    // Our session forgotten (another day): WeChat still knows the user, our consent is
    // remembered, so nothing is shown at all.
    await page.context().clearCookies({ name: 'wxauth_session' });
    const second = authorizeRequest();
    await page.goto(second.url);
    const claims = await idClaims(page, second.state, second.verifier);
    assert.equal(claims.sub, sub);
    assert.deepEqual(claims.amr, ['wechat']);
  });

  test('on a desktop: the QR link beside the password, in both languages', { timeout: TEST_MS }, async () => {
    for (const [locale, words] of [['en-US', 'Sign in with WeChat'], ['zh-CN', '使用微信登录']]) {
      const name = `bob${randomBytes(6).toString('hex')}`;
      const sub = await miniProgramSub(`ok-${name}.u`);
      const page = await newPage({ viewport: DESKTOP, locale });
      const request = authorizeRequest();
      await page.goto(request.url);
      const link = page.locator('a.wechat');
      assert.equal(await link.textContent(), words);
      assert.equal(await page.locator('input[name="password"]').count(), 1, 'the password stays on offer');
      await page.screenshot({ path: `${ARTIFACTS}wechat-link-${locale}-desktop.png`, fullPage: true });
      await link.click();
      await approveAtWechat(page, `${name}.u`, '/connect/qrconnect');
      assert.equal((await idClaims(page, request.state, request.verifier)).sub, sub);
    }
  });

  test('a phone browser outside WeChat gets a hint, no link', { timeout: TEST_MS }, async () => {
    const safari = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Version/17.0 Mobile/15E148 Safari/604.1';
    const page = await newPage({ userAgent: safari, viewport: PHONE });
    await page.goto(authorizeRequest().url);
    assert.equal(await page.locator('a.wechat').count(), 0);
    assert.match(await page.locator('p.hint').textContent(), /open this page in WeChat/);
  });
});

// The sign-in and consent page (/oauth/authorize) in a real browser: Debian's headless Chromium
// driven by playwright-core, against the local server at WXAUTH_LOCAL_URL, with the demo client
// `demo-web` and the demo user `demo` that scripts/test creates (logout tokens verified by jose).
// Run by scripts/test:
//
//   WXAUTH_LOCAL_URL=http://127.0.0.1:PORT node --test tests/browser/
//
// Leaves screenshots of the sign-in page in tests/browser/artifacts/ (git-ignored): each
// language in a phone-sized (420 px) and a desktop window.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import {
  ARTIFACTS, BASE, CLIENT_ID, CLIENT_NAME, DESKTOP, PHONE, REDIRECT_URI, authorizeRequest, chromiumSession, claimsOf, redeem,
} from './support.mjs';

/** Every wait is bounded: an element, a navigation, a fetch, a whole test. */
const WAIT_MS = 5_000;
const TEST_MS = 30_000;

/** The value a /demo/callback page shows for `name` (`<td id="name">`), or null. */
async function callbackValue(page, name) {
  const cell = page.locator(`td[id="${name}"]`);
  return (await cell.count()) === 0 ? null : cell.textContent({ timeout: WAIT_MS });
}

/** Runs wxauth-admin of the local stack (scripts/test exports its directory and the stack's settings). */
function admin(...args) {
  return execFileSync(`${process.env.WXAUTH_BIN_DIR}/wxauth-admin`, args, { env: process.env }).toString();
}

/** The logout tokens demo-web's back-channel endpoint received, newest first, once `found` holds. */
async function backchannelLogouts(found) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const res = await fetch(`${BASE}/demo/backchannel-logout`, { signal: AbortSignal.timeout(WAIT_MS) });
    const received = await res.json();
    if (found(received) || Date.now() > deadline) return received;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Clicks a submit button (`decision` by default) and waits for the page it leads to. */
async function submit(page, value, name = 'decision') {
  const posted = page.waitForResponse(
    (r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/oauth/authorize',
    { timeout: WAIT_MS },
  );
  await page.locator(`button[name="${name}"][value="${value}"]`).click({ timeout: WAIT_MS });
  return posted;
}

/** Each line of "It asks for": its scope token and the words shown for it. */
async function scopesShown(page) {
  return page.locator('main li').evaluateAll((items) => items.map((li) => [li.dataset.scope, li.textContent]));
}

/**
 * The page fits the window: nothing wider than it (no sideways scrolling on a phone), every
 * button inside it with its label unclipped, and the two decisions on the first screen.
 */
async function assertFits(page, viewport) {
  const { scrollWidth, buttons } = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    buttons: [...document.querySelectorAll('button')].map((b) => {
      const r = b.getBoundingClientRect();
      return { label: b.textContent, name: b.name, left: r.left, right: r.right, bottom: r.bottom,
        clipped: b.scrollWidth > b.clientWidth };
    }),
  }));
  assert.ok(scrollWidth <= viewport.width, `the page is ${scrollWidth}px wide in a ${viewport.width}px window`);
  assert.ok(buttons.length >= 3, 'approve, deny and a language switch');
  for (const b of buttons) {
    assert.ok(b.left >= 0 && b.right <= viewport.width, `button ${b.label} outside the window`);
    assert.ok(!b.clipped, `button ${b.label} is clipped`);
    if (b.name === 'decision') assert.ok(b.bottom <= viewport.height, `button ${b.label} below the first screen`);
  }
}

/** Saves a screenshot of the whole page as tests/browser/artifacts/<name>.png. */
async function screenshot(page, name) {
  await page.screenshot({ path: `${ARTIFACTS}${name}.png`, fullPage: true });
}

/** What each language's page says, as the test expects to read it. */
const WORDS = {
  'zh-CN': {
    heading: `${CLIENT_NAME} 请求使用你的账号登录`,
    scopes: [['openid', '你的账号标识，用于确认是你本人'], ['profile', '你的基本资料（用户名、昵称、头像）']],
    approve: '登录并授权',
    deny: '拒绝',
    wrongPassword: '用户名或密码错误。',
    switchTo: 'en',
  },
  en: {
    heading: `${CLIENT_NAME} wants to sign you in`,
    scopes: [['openid', 'Your account ID, to know it is you'], ['profile', 'Your basic profile (username, nickname, avatar)']],
    approve: 'Sign in and allow',
    deny: 'Deny',
    wrongPassword: 'Wrong username or password.',
    switchTo: 'zh-CN',
  },
};

/** Checks that the page speaks `lang` throughout. */
async function assertSpeaks(page, lang) {
  const words = WORDS[lang];
  assert.equal(await page.locator('html').getAttribute('lang'), lang);
  assert.equal((await page.locator('h1').textContent()).trim(), words.heading);
  assert.deepEqual(await scopesShown(page), words.scopes);
  assert.equal(await page.locator('button[value="approve"]').textContent(), words.approve);
  assert.equal(await page.locator('button[value="deny"]').textContent(), words.deny);
  assert.equal(await page.locator('input[name="locale"]').inputValue(), lang);
  assert.equal(await page.locator('button[name="switch_locale"]').getAttribute('value'), words.switchTo);
}

describe('the sign-in and consent page in Chromium', { timeout: 4 * TEST_MS }, () => {
  const chromium = chromiumSession({ waitMs: WAIT_MS });
  const newPage = chromium.newPage;
  before(chromium.launch);
  after(chromium.close);

  test('signs in after a wrong password, and the code redeems with the PKCE verifier', { timeout: TEST_MS }, async () => {
    const page = await newPage();
    const { url, state, verifier } = authorizeRequest();

    const shown = await page.goto(url);
    assert.equal(shown.status(), 200);
    assert.equal(await page.locator('h1 strong').textContent(), CLIENT_NAME);
    assert.deepEqual(await scopesShown(page), [['openid', 'Your account ID, to know it is you']]);

    // A wrong password: the same page again, with the error and the username kept.
    await page.locator('#username').fill('demo');
    await page.locator('#password').fill('not-the-password');
    const refused = await submit(page, 'approve');
    assert.equal(refused.status(), 200);
    const error = page.locator('p.error[role="alert"]');
    await error.waitFor({ timeout: WAIT_MS });
    assert.match(await error.textContent(), /Wrong username or password/);
    assert.equal(new URL(page.url()).pathname, '/oauth/authorize');
    assert.equal(await page.locator('#username').inputValue(), 'demo');
    assert.equal(await page.locator('h1 strong').textContent(), CLIENT_NAME);

    // The right one: redirected to the client with a code, the state and the issuer.
    await page.locator('#username').fill('demo');
    await page.locator('#password').fill('demo-password');
    const approved = await submit(page, 'approve');
    assert.equal(approved.status(), 302);
    await page.waitForURL((u) => u.pathname === '/demo/callback', { timeout: WAIT_MS });
    const landed = new URL(page.url());
    assert.equal(`${landed.origin}${landed.pathname}`, REDIRECT_URI);
    const code = await callbackValue(page, 'code');
    assert.ok(code, 'the callback shows a code');
    assert.equal(await callbackValue(page, 'error'), null);
    assert.equal(await callbackValue(page, 'state'), state);
    assert.equal(await callbackValue(page, 'iss'), BASE);
    assert.equal(landed.searchParams.get('code'), code);
    assert.equal(landed.searchParams.get('state'), state);
    assert.equal(landed.searchParams.get('iss'), BASE);

    // Redeemed as the public client would: the code, the redirect URI and the verifier.
    const tokens = await redeem(code, verifier);
    assert.equal(tokens.token_type, 'Bearer');
    assert.equal(typeof tokens.access_token, 'string');
    const parts = tokens.access_token.split('.');
    assert.equal(parts.length, 3, 'the access token is a JWT');
    assert.ok(parts.every((p) => p.length > 0), 'no empty JWT part');
    const claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    assert.equal(claims.iss, BASE);
    assert.equal(claims.client_id, CLIENT_ID);
    assert.equal(typeof tokens.refresh_token, 'string');
    assert.ok(tokens.refresh_token.length > 0, 'a refresh token');
  });

  test('signs in once: prompt=none answers silently with the same sub, auth_time and sid; max_age=1 asks again 2 s later', { timeout: TEST_MS }, async () => {
    const page = await newPage({ viewport: DESKTOP });
    const first = authorizeRequest();
    await page.goto(first.url);
    await page.locator('#username').fill('demo');
    await page.locator('#password').fill('demo-password');
    assert.equal((await submit(page, 'approve')).status(), 302);
    await page.waitForURL((u) => u.pathname === '/demo/callback', { timeout: WAIT_MS });
    const signedIn = claimsOf((await redeem(await callbackValue(page, 'code'), first.verifier)).id_token);
    assert.ok(signedIn.sid, 'the ID token names the session');
    assert.deepEqual(signedIn.amr, ['pwd']);

    // The cookie: HttpOnly, SameSite=Lax, the whole site; a session cookie (no expiry).
    const cookie = (await page.context().cookies(BASE)).find((c) => c.name === 'wxauth_session');
    assert.ok(cookie, 'a session cookie');
    assert.deepEqual([cookie.httpOnly, cookie.sameSite, cookie.path, cookie.expires], [true, 'Lax', '/', -1]);
    assert.equal(cookie.value.length, 43, '256 random bits, base64url');

    // prompt=none: no page, straight back to the client, the same sign-in.
    const silent = authorizeRequest({ prompt: 'none' });
    await page.goto(silent.url);
    await page.waitForURL((u) => u.pathname === '/demo/callback', { timeout: WAIT_MS });
    assert.equal(await callbackValue(page, 'state'), silent.state);
    const again = claimsOf((await redeem(await callbackValue(page, 'code'), silent.verifier)).id_token);
    for (const claim of ['sub', 'auth_time', 'sid']) assert.equal(again[claim], signedIn[claim], claim);

    // max_age=1, two seconds after the sign-in: the password again (under prompt=none, login_required).
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    const aged = authorizeRequest({ max_age: '1' });
    assert.equal((await page.goto(aged.url)).status(), 200);
    assert.ok(await page.locator('#password').isVisible(), 'the sign-in page asks for the password');
    const agedSilent = authorizeRequest({ max_age: '1', prompt: 'none' });
    await page.goto(agedSilent.url);
    await page.waitForURL((u) => u.pathname === '/demo/callback', { timeout: WAIT_MS });
    assert.equal(await callbackValue(page, 'error'), 'login_required');

    // Signing in again starts a new session: a new cookie value, a later auth_time, a new sid.
    await page.goto(aged.url);
    await page.locator('#username').fill('demo');
    await page.locator('#password').fill('demo-password');
    await submit(page, 'approve');
    await page.waitForURL((u) => u.pathname === '/demo/callback', { timeout: WAIT_MS });
    const renewed = claimsOf((await redeem(await callbackValue(page, 'code'), aged.verifier)).id_token);
    assert.equal(renewed.sub, signedIn.sub);
    assert.ok(renewed.auth_time > signedIn.auth_time, 'a later sign-in');
    assert.notEqual(renewed.sid, signedIn.sid);
    const renewedCookie = (await page.context().cookies(BASE)).find((c) => c.name === 'wxauth_session');
    assert.notEqual(renewedCookie.value, cookie.value, 'no session value survives a sign-in');
  });

  test('a second client needs no password, only consent; logout redirects with state, ends the session and tells both clients', { timeout: TEST_MS }, async () => {
    const second = `sso-${randomBytes(6).toString('hex')}`;
    admin('client', 'create', '--id', second, '--name', 'Second web app', '--kind', 'public', '--redirect-uri',
      REDIRECT_URI, '--scope', 'openid', '--backchannel-logout-uri', `${BASE}/demo/backchannel-logout`);
    const page = await newPage({ viewport: DESKTOP });
    const first = authorizeRequest();
    await page.goto(first.url);
    await page.locator('#username').fill('demo');
    await page.locator('#password').fill('demo-password');
    await submit(page, 'approve');
    await page.waitForURL((u) => u.pathname === '/demo/callback', { timeout: WAIT_MS });
    const tokens = await redeem(await callbackValue(page, 'code'), first.verifier);
    const signedIn = claimsOf(tokens.id_token);

    // The second client: signed in already, so only its consent; then nothing at all.
    const other = authorizeRequest({}, second);
    await page.goto(other.url);
    assert.equal(await page.locator('#password').count(), 0, 'no password asked');
    assert.equal(await page.locator('h1 strong').textContent(), 'Second web app');
    await submit(page, 'approve');
    await page.waitForURL((u) => u.pathname === '/demo/callback', { timeout: WAIT_MS });
    const otherClaims = claimsOf((await redeem(await callbackValue(page, 'code'), other.verifier, second)).id_token);
    assert.equal(otherClaims.sub, signedIn.sub);
    assert.equal(otherClaims.sid, signedIn.sid, 'one session');
    const silent = authorizeRequest({ prompt: 'none' }, second);
    await page.goto(silent.url);
    await page.waitForURL((u) => u.pathname === '/demo/callback', { timeout: WAIT_MS });
    assert.ok(await callbackValue(page, 'code'), 'no page any more');

    // RP-initiated logout with demo-web's ID token: back to its registered URI with the state.
    const logout = new URLSearchParams({
      id_token_hint: tokens.id_token, post_logout_redirect_uri: `${BASE}/demo/logged-out`, state: 'bye-123',
    });
    await page.goto(`${BASE}/oauth/end_session?${logout}`);
    await page.waitForURL((u) => u.pathname === '/demo/logged-out', { timeout: WAIT_MS });
    assert.equal(await callbackValue(page, 'state'), 'bye-123');
    assert.equal((await page.context().cookies(BASE)).find((c) => c.name === 'wxauth_session'), undefined, 'the cookie is gone');
    const after = authorizeRequest({ prompt: 'none' });
    await page.goto(after.url);
    await page.waitForURL((u) => u.pathname === '/demo/callback', { timeout: WAIT_MS });
    assert.equal(await callbackValue(page, 'error'), 'login_required');

    // Both clients were told through the back channel, each with a logout token of its own.
    const ours = (list) => list.filter((r) => r.claims?.sid === signedIn.sid);
    const received = ours(await backchannelLogouts((list) => ours(list).length >= 2));
    assert.deepEqual(received.map((r) => r.claims.aud).sort(), [CLIENT_ID, second].sort());
    assert.ok(received.every((r) => r.valid), 'the demo relying party verified each');
    // And jose verifies them as a relying party would, with the keys discovery names.
    const discovery = await (await fetch(`${BASE}/.well-known/openid-configuration`)).json();
    assert.equal(discovery.backchannel_logout_supported, true);
    assert.equal(discovery.backchannel_logout_session_supported, true);
    const jwks = createRemoteJWKSet(new URL(discovery.jwks_uri));
    for (const r of received) {
      const { payload } = await jwtVerify(r.logout_token, jwks, {
        issuer: BASE, audience: r.claims.aud, typ: 'logout+jwt', requiredClaims: ['iat', 'exp', 'jti', 'sid', 'events'],
      });
      assert.deepEqual(payload.events, { 'http://schemas.openid.net/event/backchannel-logout': {} });
      assert.equal(payload.sub, signedIn.sub);
      assert.equal(payload.nonce, undefined, 'never a nonce');
    }
    assert.notEqual(received[0].claims.jti, received[1].claims.jti);
  });

  test('Deny sends access_denied and the state back to the client', { timeout: TEST_MS }, async () => {
    const page = await newPage();
    const { url, state } = authorizeRequest();
    await page.goto(url);
    assert.equal(await page.locator('h1 strong').textContent(), CLIENT_NAME);

    // Deny skips the required fields (formnovalidate): nothing typed.
    const denied = await submit(page, 'deny');
    assert.equal(denied.status(), 302);
    await page.waitForURL((u) => u.pathname === '/demo/callback', { timeout: WAIT_MS });
    assert.equal(await callbackValue(page, 'error'), 'access_denied');
    assert.equal(await callbackValue(page, 'state'), state);
    assert.equal(await callbackValue(page, 'iss'), BASE);
    assert.equal(await callbackValue(page, 'code'), null);
  });

  test('the page refuses to be framed', { timeout: TEST_MS }, async () => {
    const page = await newPage();
    const { url } = authorizeRequest();
    const res = await page.goto(url);
    const headers = res.headers(); // names in lowercase
    assert.equal(headers['x-frame-options'], 'DENY');
    const csp = headers['content-security-policy'] ?? '';
    assert.match(csp, /(^|;)\s*frame-ancestors 'none'\s*(;|$)/, csp);

    // And Chromium obeys. From a page of the same origin (the demo callback, whose responses
    // carry neither header), two frames: the sign-in page is blocked and never renders its form,
    // while a second demo callback page renders beside it (the control).
    await page.goto(`${BASE}/demo/callback?host=yes`);
    const blocked = page.waitForEvent('console', {
      predicate: (m) => /frame-ancestors|X-Frame-Options/i.test(m.text()),
      timeout: WAIT_MS,
    });
    const framed = authorizeRequest();
    const loaded = await page.evaluate(
      ({ frames, ms }) =>
        Promise.race([
          Promise.all(
            frames.map(
              ([id, src]) =>
                new Promise((resolve) => {
                  const iframe = document.createElement('iframe');
                  iframe.id = id;
                  iframe.addEventListener('load', () => resolve(id), { once: true });
                  iframe.src = src;
                  document.body.append(iframe);
                }),
            ),
          ),
          new Promise((resolve) => setTimeout(() => resolve('timeout'), ms)),
        ]),
      {
        frames: [
          ['control', `${BASE}/demo/callback?framed=yes`],
          ['authorize', framed.url],
        ],
        ms: WAIT_MS,
      },
    );
    assert.deepEqual(loaded, ['control', 'authorize'], 'both frames finished loading');
    const frameOf = async (id) => {
      const frame = await (await page.locator(`iframe#${id}`).elementHandle({ timeout: WAIT_MS })).contentFrame();
      assert.ok(frame, `iframe#${id} has a frame`);
      return frame;
    };
    const control = await frameOf('control');
    assert.equal(await control.locator('td#framed').textContent({ timeout: WAIT_MS }), 'yes');
    const authorize = await frameOf('authorize');
    assert.equal(await authorize.locator('form').count(), 0, 'the sign-in form must not render in a frame');
    assert.equal(await authorize.locator('h1 strong').count(), 0);
    assert.notEqual(authorize.url(), framed.url, 'the framed sign-in page was replaced by an error page');
    const message = await blocked;
    assert.match(message.text(), /frame-ancestors 'none'|X-Frame-Options/);
  });
  test('speaks the browser\'s language, and ui_locales before it', { timeout: TEST_MS }, async () => {
    // Without a Chinese font Chromium draws boxes: the screenshots would show nothing.
    assert.ok(execFileSync('fc-list', [':lang=zh']).toString().trim(), 'a Chinese font (scripts/test installs one)');
    for (const [locale, uiLocales, lang] of [
      ['zh-CN', undefined, 'zh-CN'],
      ['en-US', undefined, 'en'],
      ['zh-CN', 'en', 'en'],
      ['en-US', 'zh-CN', 'zh-CN'],
      ['fr-FR', undefined, 'en'],
    ]) {
      const page = await newPage({ locale });
      const { url } = authorizeRequest({ scope: 'openid profile', ...(uiLocales && { ui_locales: uiLocales }) });
      assert.equal((await page.goto(url)).status(), 200);
      await assertSpeaks(page, lang);
    }
  });

  for (const [size, viewport] of [['phone', PHONE], ['desktop', DESKTOP]]) {
    test(`fits a ${size} window in each language`, { timeout: TEST_MS }, async () => {
      for (const lang of Object.keys(WORDS)) {
        const page = await newPage({ locale: lang, viewport });
        await page.goto(authorizeRequest({ scope: 'openid profile' }).url);
        await assertSpeaks(page, lang);
        await assertFits(page, viewport);
        await screenshot(page, `sign-in-${lang}-${size}`);
        // The error above the form fits too. (Another username than `demo`: failures count
        // towards locking the username they name.)
        await page.locator('#username').fill(`nobody-${randomBytes(4).toString('hex')}`);
        await page.locator('#password').fill('not-the-password');
        await submit(page, 'approve');
        await page.locator('p.error').waitFor({ timeout: WAIT_MS });
        await assertFits(page, viewport);
        await screenshot(page, `sign-in-${lang}-${size}-wrong-password`);
      }
    });
  }

  test('signs in in Chinese, switching to English on the way', { timeout: TEST_MS }, async () => {
    const page = await newPage({ locale: 'zh-CN' });
    const { url, state } = authorizeRequest({ scope: 'openid profile' });
    await page.goto(url);
    await assertSpeaks(page, 'zh-CN');

    await page.locator('#username').fill('demo');
    await page.locator('#password').fill('not-the-password');
    assert.equal((await submit(page, 'approve')).status(), 200);
    assert.equal(await page.locator('p.error[role="alert"]').textContent(), WORDS['zh-CN'].wrongPassword);
    await assertSpeaks(page, 'zh-CN');

    // The switch shows the same request in English, the username kept, nothing answered yet.
    assert.equal((await submit(page, 'en', 'switch_locale')).status(), 200);
    await assertSpeaks(page, 'en');
    assert.equal(await page.locator('#username').inputValue(), 'demo');
    assert.equal(await page.locator('p.error').count(), 0);
    await page.locator('#password').fill('not-the-password');
    await submit(page, 'approve');
    assert.equal(await page.locator('p.error[role="alert"]').textContent(), WORDS.en.wrongPassword);
    await assertSpeaks(page, 'en');

    await page.locator('#password').fill('demo-password');
    assert.equal((await submit(page, 'approve')).status(), 302);
    await page.waitForURL((u) => u.pathname === '/demo/callback', { timeout: WAIT_MS });
    assert.ok(await callbackValue(page, 'code'), 'a code');
    assert.equal(await callbackValue(page, 'state'), state);
  });

  test('the error page speaks the browser\'s language', { timeout: TEST_MS }, async () => {
    const page = await newPage({ locale: 'zh-CN' });
    const res = await page.goto(`${BASE}/oauth/authorize?response_type=code&client_id=no-such-client`);
    assert.equal(res.status(), 400);
    assert.equal(await page.locator('html').getAttribute('lang'), 'zh-CN');
    assert.equal(await page.locator('h1').textContent(), '未知的应用');
    await screenshot(page, 'error-zh-CN-phone');
    const english = await newPage();
    await english.goto(`${BASE}/oauth/authorize?response_type=code&client_id=no-such-client`);
    assert.equal(await english.locator('h1').textContent(), 'Unknown application');
  });
});

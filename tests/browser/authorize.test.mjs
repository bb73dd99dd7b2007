// The sign-in and consent page (/oauth/authorize) in a real browser: Debian's headless Chromium
// driven by playwright-core, against the local server at WXAUTH_LOCAL_URL, with the demo client
// `demo-web` and the demo user `demo` that scripts/test creates. Run by scripts/test:
//
//   WXAUTH_LOCAL_URL=http://127.0.0.1:PORT node --test tests/browser/
//
// Leaves a screenshot of the sign-in page in tests/browser/artifacts/sign-in.png (git-ignored).

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const BASE = (process.env.WXAUTH_LOCAL_URL ?? '').replace(/\/+$/, '');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CLIENT_ID = 'demo-web';
const CLIENT_NAME = 'Demo web app';
const REDIRECT_URI = `${BASE}/demo/callback`;
const ARTIFACTS = fileURLToPath(new URL('./artifacts/', import.meta.url));

/** Every wait is bounded: an element, a navigation, a fetch, a whole test. */
const WAIT_MS = 5_000;
const TEST_MS = 30_000;

// No internet here: nothing of Chromium's own may try to reach out (Playwright itself adds
// --headless and --no-sandbox too, and a fresh temporary --user-data-dir that it deletes on close;
// it refuses a --user-data-dir in `args` for launch()).
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** A fresh authorization request: its URL, state and PKCE verifier. */
function authorizeRequest() {
  const verifier = randomBytes(48).toString('base64url'); // 64 characters of [A-Za-z0-9_-]
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const state = randomBytes(16).toString('base64url');
  const query = new URLSearchParams({
    response_type: 'code',
    client_id: CLIENT_ID,
    redirect_uri: REDIRECT_URI,
    scope: 'openid',
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  });
  return { url: `${BASE}/oauth/authorize?${query}`, state, verifier };
}

/** The value a /demo/callback page shows for `name` (`<td id="name">`), or null. */
async function callbackValue(page, name) {
  const cell = page.locator(`td[id="${name}"]`);
  return (await cell.count()) === 0 ? null : cell.textContent({ timeout: WAIT_MS });
}

/** Clicks a submit button and waits for the page it leads to (the same URL or another). */
async function submit(page, decision) {
  const posted = page.waitForResponse(
    (r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/oauth/authorize',
    { timeout: WAIT_MS },
  );
  await page.locator(`button[name="decision"][value="${decision}"]`).click({ timeout: WAIT_MS });
  return posted;
}

describe('the sign-in and consent page in Chromium', { timeout: 4 * TEST_MS }, () => {
  let browser;
  let context;

  before(async () => {
    assert.ok(BASE, 'WXAUTH_LOCAL_URL must name the local server (scripts/test exports it)');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ARGS,
      timeout: 20_000,
    });
  });

  after(async () => {
    await context?.close().catch(() => {});
    await browser?.close();
  });

  /** A new page in a new context: no cookie or history carried from one test to the next. */
  async function newPage() {
    await context?.close().catch(() => {});
    context = await browser.newContext({ viewport: { width: 480, height: 800 } });
    context.setDefaultTimeout(WAIT_MS);
    context.setDefaultNavigationTimeout(WAIT_MS);
    return context.newPage();
  }

  test('signs in after a wrong password, and the code redeems with the PKCE verifier', { timeout: TEST_MS }, async () => {
    const page = await newPage();
    const { url, state, verifier } = authorizeRequest();

    const shown = await page.goto(url);
    assert.equal(shown.status(), 200);
    assert.equal(await page.locator('h1 strong').textContent(), CLIENT_NAME);
    assert.deepEqual(await page.locator('main li').allTextContents(), ['openid']);
    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: `${ARTIFACTS}sign-in.png`, fullPage: true });

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
    const res = await fetch(`${BASE}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        client_id: CLIENT_ID,
        code,
        redirect_uri: REDIRECT_URI,
        code_verifier: verifier,
      }),
      signal: AbortSignal.timeout(WAIT_MS),
    });
    const body = await res.text();
    assert.equal(res.status, 200, body);
    const tokens = JSON.parse(body);
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
});

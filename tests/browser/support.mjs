// What the browser suites share: the local stack's address, Chromium launched without reaching
// out, one fresh context per page, and demo-web's side of the code flow (the request with PKCE,
// the code's redemption, the ID token's claims).

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const BASE = (process.env.WXAUTH_LOCAL_URL ?? '').replace(/\/+$/, '');
export const CLIENT_ID = 'demo-web';
export const CLIENT_NAME = 'Demo web app';
export const REDIRECT_URI = `${BASE}/demo/callback`;
/** Screenshots (git-ignored). */
export const ARTIFACTS = fileURLToPath(new URL('./artifacts/', import.meta.url));
export const PHONE = { width: 420, height: 860 };
export const DESKTOP = { width: 1280, height: 800 };

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
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

/**
 * One Chromium for a suite: `launch()` in `before`, `close()` in `after`, and `newPage()` for each
 * test, in a new context (no cookie or history carried from one test to the next) whose every
 * wait is bounded by `waitMs`. The browser's language (`locale`, sent as Accept-Language) is
 * English unless a test says otherwise.
 */
export function chromiumSession({ waitMs }) {
  let browser;
  let context;
  return {
    async launch() {
      assert.ok(BASE, 'WXAUTH_LOCAL_URL must name the local server (scripts/test exports it)');
      browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS, timeout: 20_000 });
      await mkdir(ARTIFACTS, { recursive: true });
    },
    async close() {
      await context?.close().catch(() => {});
      await browser?.close();
    },
    async newPage({ locale = 'en-US', viewport = PHONE, ...options } = {}) {
      await context?.close().catch(() => {});
      context = await browser.newContext({ viewport, locale, ...options });
      context.setDefaultTimeout(waitMs);
      context.setDefaultNavigationTimeout(waitMs);
      return context.newPage();
    },
  };
}

/**
 * A fresh authorization request of `clientId` (scope `openid`; `extra` adds or replaces
 * parameters): its URL, state and PKCE verifier.
 */
export function authorizeRequest(extra = {}, clientId = CLIENT_ID) {
  const verifier = randomBytes(48).toString('base64url'); // 64 characters of [A-Za-z0-9_-]
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const state = randomBytes(16).toString('base64url');
  const query = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: REDIRECT_URI,
    scope: 'openid',
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...extra,
  });
  return { url: `${BASE}/oauth/authorize?${query}`, state, verifier };
}

/** POSTs `form` to our `path`; its JSON answer, which must be a 200. */
export async function postForm(path, form, { waitMs = 5_000 } = {}) {
  const res = await fetch(`${BASE}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form),
    signal: AbortSignal.timeout(waitMs),
  });
  const body = await res.text();
  assert.equal(res.status, 200, body);
  return JSON.parse(body);
}

/** Redeems `code` as the public client would (the redirect URI and the verifier); the tokens. */
export function redeem(code, verifier, clientId = CLIENT_ID, { waitMs = 5_000 } = {}) {
  const form = {
    grant_type: 'authorization_code',
    client_id: clientId,
    code,
    redirect_uri: REDIRECT_URI,
    code_verifier: verifier,
  };
  return postForm('/oauth/token', form, { waitMs });
}

/** The claims of a JWT, unverified (signatures are the Rust and jwt-verify suites' business). */
export function claimsOf(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));
}

/** The ID token's claims of the code on the /demo/callback page `page` landed on with `state`. */
export async function idClaims(page, state, verifier, { waitMs = 5_000 } = {}) {
  await page.waitForURL((u) => u.pathname === '/demo/callback', { timeout: waitMs });
  const landed = new URL(page.url());
  assert.equal(landed.searchParams.get('state'), state);
  return claimsOf((await redeem(landed.searchParams.get('code'), verifier, CLIENT_ID, { waitMs })).id_token);
}

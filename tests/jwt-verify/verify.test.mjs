// AWS's own JWT verifier (aws-jwt-verify, the library AWS publishes for API Gateway Lambda
// authorizers) against the access tokens of every grant the local server issues, with the keys
// it finds the way API Gateway's HTTP API JWT authorizer does: the discovery document at
// {issuer}/.well-known/openid-configuration, then its jwks_uri. Run by scripts/test, which starts
// the local server and exports what this needs:
//
//   WXAUTH_LOCAL_URL      the local server, which is also its issuer (ISSUER)
//   DEMO_SERVICE_SECRET   the secret of the confidential demo client `demo-service`
//   WXAUTH_BIN_DIR        where wxauth-admin is (it registers a client for the password grant,
//                         on the table of WXAUTH_TABLE, AWS_ENDPOINT_URL, ... inherited)
//   WXAUTH_EXPECT_ALG     optional: the signing algorithm the tokens must have (RS256)
//
//   node --test tests/jwt-verify/

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, mock, test } from 'node:test';
import { JwtVerifier } from 'aws-jwt-verify';
import {
  JwtExpiredError,
  JwtInvalidAudienceError,
  JwtInvalidIssuerError,
  JwtInvalidScopeError,
  JwtInvalidSignatureAlgorithmError,
  JwtInvalidSignatureError,
  NonRetryableFetchError,
} from 'aws-jwt-verify/error';
import { SimpleFetcher } from 'aws-jwt-verify/https';
import { SimpleJwksCache } from 'aws-jwt-verify/jwk';

const BASE = process.env.WXAUTH_LOCAL_URL ?? '';
/** What API Gateway's HTTP API JWT authorizer needs: "only RSA-based algorithms are supported". */
const EXPECT_ALG = process.env.WXAUTH_EXPECT_ALG || 'RS256';
const KTY = { RS256: 'RSA', ES256: 'EC' };
const ADMIN = `${process.env.WXAUTH_BIN_DIR ?? ''}/wxauth-admin`;
const TOKEN_TYPE = 'at+jwt'; // RFC 9068 §2.1
const WAIT_MS = 10_000;
const TEST_MS = 30_000;

const rand = () => randomBytes(6).toString('hex');
const b64url = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
const unb64url = (part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));

/** The form-urlencoding of one value (what HTTP Basic's id and secret get first, RFC 6749 §2.3.1). */
const formEncode = (value) => new URLSearchParams({ v: value }).toString().slice(2);
const basic = (id, secret) =>
  `Basic ${Buffer.from(`${formEncode(id)}:${formEncode(secret)}`).toString('base64')}`;

/**
 * aws-jwt-verify's own fetcher speaks only https (Node's https.request: `Protocol "http:" not
 * supported`). The local server is plain http on loopback, so the JWKS comes through this
 * fetcher: http only to a loopback host, only from the issuer's own origin, 200 only, no
 * redirects; https (any other deployment) goes to the library's SimpleFetcher. The library still
 * parses and checks what it returns (JWKS shape, kty, use, alg) exactly as it would over https.
 */
class IssuerFetcher {
  constructor(issuer) {
    this.origin = new URL(issuer).origin;
    this.https = new SimpleFetcher();
    this.fetched = [];
  }

  async fetch(uri, requestOptions, data) {
    const url = new URL(uri);
    if (url.origin !== this.origin) {
      throw new NonRetryableFetchError(uri, `not the issuer's origin ${this.origin}`);
    }
    this.fetched.push(uri);
    if (url.protocol === 'https:') return this.https.fetch(uri, requestOptions, data);
    if (url.protocol !== 'http:' || !['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)) {
      throw new NonRetryableFetchError(uri, 'plain http only to a loopback host');
    }
    const res = await fetch(url, { redirect: 'error', signal: AbortSignal.timeout(WAIT_MS) });
    if (res.status !== 200) {
      throw new NonRetryableFetchError(uri, `Status code is ${res.status}, expected 200`);
    }
    return res.arrayBuffer();
  }
}

/** POST /oauth/token; asserts a 200 and returns the body. */
async function token(form, authorization) {
  const headers = { 'content-type': 'application/x-www-form-urlencoded' };
  if (authorization) headers.authorization = authorization;
  const res = await fetch(`${BASE}/oauth/token`, {
    method: 'POST',
    headers,
    body: new URLSearchParams(form),
    signal: AbortSignal.timeout(WAIT_MS),
  });
  const body = await res.json();
  assert.equal(res.status, 200, `token endpoint: ${JSON.stringify(body)}`);
  assert.equal(body.token_type, 'Bearer');
  assert.equal(typeof body.access_token, 'string');
  return body;
}

/** A WeChat login of a new mock user (`ok-<name>` is valid once). */
const wechatLogin = () =>
  token({
    grant_type: 'urn:wxauth:grant-type:wechat-code',
    client_id: 'demo-miniprogram',
    code: `ok-jwtverify-${rand()}`,
  });

/** The hidden inputs of the sign-in page's form, by name. */
function hiddenInputs(html) {
  const fields = {};
  for (const [tag] of html.matchAll(/<input\b[^>]*>/gi)) {
    const attr = (name) => tag.match(new RegExp(`\\s${name}="([^"]*)"`, 'i'))?.[1];
    if (attr('type')?.toLowerCase() !== 'hidden' || !attr('name')) continue;
    fields[attr('name')] = (attr('value') ?? '')
      .replaceAll('&quot;', '"')
      .replaceAll('&#39;', "'")
      .replaceAll('&lt;', '<')
      .replaceAll('&gt;', '>')
      .replaceAll('&amp;', '&');
  }
  return fields;
}

describe('aws-jwt-verify accepts the access token of every grant', { timeout: 12 * TEST_MS }, () => {
  let discovery;
  let issuer;
  let jwksUri;
  let fetcher;
  let jwksCache;
  let verifier;
  const passwordClient = { id: `jwtverify-${rand()}`, secret: undefined };
  const checked = new Set();

  before(async () => {
    assert.ok(BASE, 'WXAUTH_LOCAL_URL must name the local server (scripts/test exports it)');
    const res = await fetch(`${BASE}/.well-known/openid-configuration`, {
      signal: AbortSignal.timeout(WAIT_MS),
    });
    assert.equal(res.status, 200, 'GET /.well-known/openid-configuration');
    discovery = await res.json();
    // OpenID Connect Discovery 1.0 §4.3: the issuer is the URL the document was found under,
    // byte for byte; API Gateway compares it with `iss` the same way.
    assert.equal(discovery.issuer, BASE);
    assert.equal(typeof discovery.jwks_uri, 'string');
    issuer = discovery.issuer;
    jwksUri = discovery.jwks_uri;
    assert.equal(new URL(jwksUri).origin, new URL(issuer).origin, 'jwks_uri is on the issuer');

    fetcher = new IssuerFetcher(issuer);
    jwksCache = new SimpleJwksCache({ fetcher });
    verifier = JwtVerifier.create(
      {
        issuer,
        audience: issuer, // the local stack's AUDIENCE default, the `aud` of the demo clients' tokens
        jwksUri,
        // Beyond what the library checks itself (signature, iss, aud, exp/nbf when present,
        // alg equal to the JWK's alg when the JWK names one): the algorithm API Gateway needs,
        // a JWK whose key type is that algorithm's, and RFC 9068's token type.
        customJwtCheck: ({ header, jwk }) => {
          assert.equal(header.alg, EXPECT_ALG, 'header alg');
          assert.equal(jwk.alg, EXPECT_ALG, 'the JWK names its algorithm');
          assert.equal(jwk.kty, KTY[EXPECT_ALG], 'the JWK key type');
          assert.equal(header.typ, TOKEN_TYPE, 'header typ');
        },
      },
      { jwksCache },
    );

    const created = JSON.parse(
      execFileSync(
        ADMIN,
        [
          '--json', 'client', 'create',
          '--id', passwordClient.id,
          '--kind', 'confidential',
          '--grant', 'password',
          '--grant', 'refresh_token',
          '--scope', 'openid profile',
        ],
        { encoding: 'utf8', timeout: WAIT_MS, stdio: ['ignore', 'pipe', 'pipe'] },
      ),
    );
    assert.equal(typeof created.client_secret, 'string', 'wxauth-admin printed the client secret');
    passwordClient.secret = created.client_secret;
  });

  after(() => {
    if (passwordClient.secret) {
      execFileSync(ADMIN, ['client', 'delete', passwordClient.id], { timeout: WAIT_MS, stdio: 'ignore' });
    }
    // The keys came from the discovered jwks_uri, and from nowhere else.
    if (fetcher) assert.ok(fetcher.fetched.every((uri) => uri === jwksUri), 'only jwks_uri fetched');
  });

  /**
   * Everything that is checked of one access token: it verifies (with a scope it has, too); its
   * header and claims are what API Gateway's authorizer reads; and a wrong audience, a wrong
   * issuer, a missing scope, a changed payload and a swapped algorithm are all refused.
   */
  async function checkAccessToken(grant, jwt, { clientId, sub }) {
    const [headerB64, payloadB64, signatureB64] = jwt.split('.');
    const header = unb64url(headerB64);
    assert.equal(header.alg, EXPECT_ALG, `${grant}: header alg`);
    assert.equal(header.typ, TOKEN_TYPE, `${grant}: header typ`);
    assert.equal(typeof header.kid, 'string', `${grant}: header kid`);

    const payload = await verifier.verify(jwt);
    assert.deepEqual(payload, unb64url(payloadB64), `${grant}: verify returns the payload`);
    assert.ok(fetcher.fetched.includes(jwksUri), 'the keys came from the discovered jwks_uri');

    // What the authorizer checks and the protected API reads (aws-jwt-verify does not insist
    // on exp: a token without one would pass it, so that is checked here).
    const now = Date.now() / 1000;
    assert.equal(payload.iss, issuer, `${grant}: iss`);
    assert.ok([payload.aud].flat().includes(issuer), `${grant}: aud`);
    assert.equal(payload.client_id, clientId, `${grant}: client_id`);
    assert.ok(typeof payload.sub === 'string' && payload.sub.length > 0, `${grant}: sub`);
    if (sub !== undefined) assert.equal(payload.sub, sub, `${grant}: sub`);
    assert.ok(typeof payload.scope === 'string' && payload.scope.length > 0, `${grant}: scope`);
    assert.ok(Number.isInteger(payload.exp) && payload.exp > now, `${grant}: exp in the future`);
    assert.ok(Number.isInteger(payload.iat) && payload.iat <= now + 1, `${grant}: iat not ahead`);
    assert.equal(typeof payload.jti, 'string', `${grant}: jti`);

    // The scope option: one of the token's scopes passes, one it lacks does not.
    const scopes = payload.scope.split(' ');
    for (const scope of scopes) await verifier.verify(jwt, { scope });
    await verifier.verify(jwt, { scope: ['jwtverify:absent', scopes.at(-1)] });
    await assert.rejects(verifier.verify(jwt, { scope: 'jwtverify:absent' }), JwtInvalidScopeError);

    // Audience and issuer: exact strings.
    await assert.rejects(verifier.verify(jwt, { audience: `${issuer}/other` }), JwtInvalidAudienceError);
    await assert.rejects(verifier.verify(jwt, { audience: clientId }), JwtInvalidAudienceError);
    for (const wrong of [`${issuer}/`, `${issuer}/other`, issuer.replace('127.0.0.1', 'localhost')]) {
      if (wrong === issuer) continue;
      const other = JwtVerifier.create(
        { issuer: wrong, audience: issuer, jwksUri },
        { jwksCache },
      );
      await assert.rejects(other.verify(jwt), JwtInvalidIssuerError, `issuer ${wrong}`);
    }

    // A changed payload (another scope, another user) under the original signature.
    for (const changed of [
      { ...payload, scope: `${payload.scope} admin` },
      { ...payload, sub: `${payload.sub}x` },
      { ...payload, exp: payload.exp + 3600 },
    ]) {
      await assert.rejects(
        verifier.verify(`${headerB64}.${b64url(changed)}.${signatureB64}`),
        JwtInvalidSignatureError,
      );
    }
    // The signature with one bit flipped: refused.
    const flipped = Buffer.from(signatureB64, 'base64url');
    flipped[flipped.length - 1] ^= 1;
    await assert.rejects(
      verifier.verify(`${headerB64}.${payloadB64}.${flipped.toString('base64url')}`),
      JwtInvalidSignatureError,
    );
    // Another algorithm in the header (the JWK names its own): refused before any signature check.
    for (const alg of ['none', 'HS256', EXPECT_ALG === 'RS256' ? 'ES256' : 'RS256', 'PS256']) {
      await assert.rejects(
        verifier.verify(`${b64url({ ...header, alg })}.${payloadB64}.${signatureB64}`),
        JwtInvalidSignatureAlgorithmError,
        `alg ${alg}`,
      );
    }
    checked.add(grant);
    return payload;
  }

  test('urn:wxauth:grant-type:wechat-code (demo-miniprogram)', { timeout: TEST_MS }, async () => {
    const body = await wechatLogin();
    assert.equal(typeof body.openid, 'string');
    await checkAccessToken('wechat-code', body.access_token, { clientId: 'demo-miniprogram' });
  });

  test('refresh_token (demo-miniprogram, rotated)', { timeout: TEST_MS }, async () => {
    const login = await wechatLogin();
    const first = await checkAccessToken('wechat-code', login.access_token, { clientId: 'demo-miniprogram' });
    assert.equal(typeof login.refresh_token, 'string');
    const refreshed = await token({
      grant_type: 'refresh_token',
      client_id: 'demo-miniprogram',
      refresh_token: login.refresh_token,
    });
    assert.notEqual(refreshed.refresh_token, login.refresh_token, 'the refresh token rotated');
    const payload = await checkAccessToken('refresh_token', refreshed.access_token, {
      clientId: 'demo-miniprogram',
      sub: first.sub,
    });
    assert.notEqual(payload.jti, first.jti);
  });

  test('client_credentials (demo-service, HTTP Basic)', { timeout: TEST_MS }, async () => {
    const secret = process.env.DEMO_SERVICE_SECRET;
    assert.ok(secret, 'DEMO_SERVICE_SECRET must hold demo-service\'s secret (scripts/test exports it)');
    const body = await token({ grant_type: 'client_credentials' }, basic('demo-service', secret));
    assert.equal(body.refresh_token, undefined);
    await checkAccessToken('client_credentials', body.access_token, { clientId: 'demo-service' });
  });

  test('authorization_code with PKCE S256 (demo-web, the sign-in page)', { timeout: TEST_MS }, async () => {
    const redirectUri = `${BASE}/demo/callback`;
    const verifierCode = randomBytes(48).toString('base64url');
    const state = randomBytes(16).toString('base64url');
    const query = new URLSearchParams({
      response_type: 'code',
      client_id: 'demo-web',
      redirect_uri: redirectUri,
      scope: 'openid profile',
      state,
      code_challenge: createHash('sha256').update(verifierCode).digest('base64url'),
      code_challenge_method: 'S256',
    });
    const page = await fetch(`${BASE}/oauth/authorize?${query}`, {
      redirect: 'manual',
      signal: AbortSignal.timeout(WAIT_MS),
    });
    const html = await page.text();
    assert.equal(page.status, 200, 'the sign-in page');
    const { request_id: requestId, csrf_token: csrfToken } = hiddenInputs(html);
    assert.ok(requestId && csrfToken, 'the form has request_id and csrf_token');
    const cookie = page.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .find((c) => c.startsWith('wxauth_csrf='));
    assert.ok(cookie, 'the page sets the wxauth_csrf cookie');

    const signedIn = await fetch(`${BASE}/oauth/authorize`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
      body: new URLSearchParams({
        request_id: requestId,
        csrf_token: csrfToken,
        username: 'demo',
        password: 'demo-password',
        decision: 'approve',
      }),
      signal: AbortSignal.timeout(WAIT_MS),
    });
    assert.equal(signedIn.status, 302, 'approved: redirected to the client');
    const location = new URL(signedIn.headers.get('location'));
    assert.equal(`${location.origin}${location.pathname}`, redirectUri);
    assert.equal(location.searchParams.get('state'), state);
    assert.equal(location.searchParams.get('iss'), issuer);
    const code = location.searchParams.get('code');
    assert.ok(code, 'the redirect carries a code');

    const body = await token({
      grant_type: 'authorization_code',
      client_id: 'demo-web',
      redirect_uri: redirectUri,
      code,
      code_verifier: verifierCode,
    });
    const payload = await checkAccessToken('authorization_code', body.access_token, { clientId: 'demo-web' });
    assert.ok(payload.scope.split(' ').includes('openid'));
  });

  test('password (a confidential client registered with wxauth-admin)', { timeout: TEST_MS }, async () => {
    const body = await token(
      { grant_type: 'password', username: 'demo', password: 'demo-password' },
      basic(passwordClient.id, passwordClient.secret),
    );
    await checkAccessToken('password', body.access_token, { clientId: passwordClient.id });
  });

  test('an access token verified after its exp is refused (the clock moves, not the token)', { timeout: TEST_MS }, async () => {
    const body = await token(
      { grant_type: 'client_credentials' },
      basic('demo-service', process.env.DEMO_SERVICE_SECRET ?? ''),
    );
    const payload = await verifier.verify(body.access_token); // also caches the JWK
    let now = (payload.exp - 1) * 1000;
    const clock = mock.method(Date, 'now', () => now); // what aws-jwt-verify reads the time from
    try {
      await verifier.verify(body.access_token);
      now = (payload.exp + 1) * 1000;
      await assert.rejects(verifier.verify(body.access_token), JwtExpiredError);
      assert.ok(clock.mock.callCount() >= 2, 'the verifier read the mocked clock');
    } finally {
      clock.mock.restore();
    }
  });

  test('an ID token is not an access token for this audience', { timeout: TEST_MS }, async (t) => {
    const body = await wechatLogin();
    if (typeof body.id_token !== 'string') {
      t.skip('the WeChat grant answered no id_token');
      return;
    }
    // Its aud is the client id (OpenID Connect Core §2), never the access tokens' audience.
    await assert.rejects(verifier.verify(body.id_token), JwtInvalidAudienceError);
    const idVerifier = JwtVerifier.create(
      { issuer, audience: 'demo-miniprogram', jwksUri },
      { jwksCache },
    );
    const claims = await idVerifier.verify(body.id_token);
    // Signed by the same key as the access tokens, with an algorithm discovery announces (which
    // always includes RS256: OpenID Connect Discovery 1.0 §3).
    const { alg } = unb64url(body.id_token.split('.')[0]);
    assert.equal(alg, EXPECT_ALG, 'ID token alg');
    assert.ok(discovery.id_token_signing_alg_values_supported.includes('RS256'));
    assert.ok(discovery.id_token_signing_alg_values_supported.includes(alg));
    assert.equal(claims.sub, unb64url(body.access_token.split('.')[1]).sub);
  });

  test('every grant was checked', () => {
    assert.deepEqual(
      [...checked].sort(),
      ['authorization_code', 'client_credentials', 'password', 'refresh_token', 'wechat-code'],
    );
  });
});

// What the integration tests need from the running local stack (started by scripts/test, or by
// scripts/dev by hand):
//
//   WXAUTH_LOCAL_URL   the local server (every route on one port)
//   WECHAT_API_BASE    the mock WeChat behind it
//
// and, for the one test that starts a second local server with REFRESH_REUSE_GRACE on the same
// table (what scripts/test and scripts/dev export): AWS_ENDPOINT_URL (moto), WXAUTH_TABLE,
// KMS_DATA_KEY_ID, ISSUER, and WXAUTH_BIN_DIR (default: the workspace's target/debug).

import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { createClient } from '../../index.mjs';
import { createFakeWx } from './fake-wx.mjs';

function required(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(
      `${name} is not set: run these tests through scripts/test, or against scripts/dev with ` +
        'WXAUTH_LOCAL_URL and WECHAT_API_BASE set (see clients/miniprogram/README.md, "Tests")',
    );
  }
  return value.replace(/\/+$/, '');
}

export const BASE = required('WXAUTH_LOCAL_URL');
export const WECHAT = required('WECHAT_API_BASE');
export const CLIENT_ID = 'demo-miniprogram';
export const APPID = 'wxdemoappid000001';
const APP_SECRET = 'demo-app-secret';

const run = randomBytes(4).toString('hex');
let counter = 0;
/** A user name no other test (or earlier run on the same stack) uses. */
export const uniqueName = (label) => `sdk${run}${(counter += 1)}-${label}`;

/** A fake wx and an SDK client on it, against the local server. */
export function loggedOutClient(label, options = {}) {
  const name = uniqueName(label);
  const fake = createFakeWx({ name, codes: options.codes });
  const client = createClient({ baseUrl: options.baseUrl || BASE, clientId: CLIENT_ID, wx: fake.wx, ...options.client });
  return { name, fake, client };
}

/** A clock the test moves by hand. */
export function fakeClock(start = Date.now()) {
  let t = start;
  const now = () => t;
  now.advance = (ms) => {
    t += ms;
  };
  return now;
}

/** The tokens the SDK keeps in the fake's storage (the refresh token included). */
export function stored(fake) {
  const raw = fake.storage.get(`wxauth:${CLIENT_ID}:tokens`);
  return raw === undefined ? null : JSON.parse(raw);
}

export async function postForm(path, form, base = BASE) {
  const res = await fetch(base + path, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });
  return { status: res.status, headers: res.headers, json: await res.json() };
}

/** A refresh-token grant sent directly (not through the SDK). */
export const refreshDirectly = (refreshToken, base = BASE) =>
  postForm('/oauth/token', { grant_type: 'refresh_token', client_id: CLIENT_ID, refresh_token: refreshToken }, base);

/** Revokes a token behind the SDK's back. */
export const revokeDirectly = (token, hint) =>
  postForm('/oauth/revoke', { client_id: CLIENT_ID, token, ...(hint ? { token_type_hint: hint } : {}) });

export async function userinfo(accessToken) {
  const res = await fetch(`${BASE}/userinfo`, { headers: { authorization: `Bearer ${accessToken}` } });
  return { status: res.status, json: await res.json().catch(() => null) };
}

/** The mock WeChat's session key for a code's name: base64(sha256("mock-wechat session key:" + name)[..16]). */
export const mockSessionKey = (name) =>
  createHash('sha256').update(`mock-wechat session key:${name}`).digest().subarray(0, 16).toString('base64');

/** WeChat's encryptedData: `fields` plus the watermark, AES-128-CBC (PKCS#7) under `key`. */
export function encryptData(key, fields, appid = APPID) {
  const plain = JSON.stringify({ ...fields, watermark: { appid, timestamp: Math.floor(Date.now() / 1000) } });
  const iv = randomBytes(16);
  const cipher = createCipheriv('aes-128-cbc', Buffer.from(key, 'base64'), iv);
  const data = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return { encryptedData: data.toString('base64'), iv: iv.toString('base64') };
}

/** What wx.getUserProfile hands a mini program: encryptedData and iv, with rawData and its signature. */
export function encryptProfile(key, fields, appid = APPID) {
  const rawData = JSON.stringify(fields);
  const signature = createHash('sha1').update(rawData + key).digest('hex');
  return { ...encryptData(key, fields, appid), rawData, signature };
}

/** Logs `name` in at the mock WeChat directly: WeChat then holds a newer session key than wxauth. */
export async function renewSessionKeyAtWechat(name) {
  const q = new URLSearchParams({ appid: APPID, secret: APP_SECRET, js_code: `ok-${name}`, grant_type: 'authorization_code' });
  const res = await fetch(`${WECHAT}/sns/jscode2session?${q}`);
  const body = JSON.parse(await res.text());
  if (!body.session_key) throw new Error(`mock WeChat refused ok-${name}: ${JSON.stringify(body)}`);
}

/**
 * A second local server on the same table, keys and mock WeChat, with its own environment
 * (`REFRESH_REUSE_GRACE`, ...). Resolves to {url, stop}.
 */
export function startLocalServer(env) {
  const binDir =
    process.env.WXAUTH_BIN_DIR || fileURLToPath(new URL('../../../../target/debug', import.meta.url));
  for (const name of ['AWS_ENDPOINT_URL', 'WXAUTH_TABLE', 'KMS_DATA_KEY_ID']) {
    if (!process.env[name]) {
      return Promise.reject(
        new Error(`${name} is not set: this test starts a local server of its own on the stack's table (scripts/test exports it)`),
      );
    }
  }
  const child = spawn(`${binDir}/wxauth-local`, [], {
    env: {
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
      AWS_REGION: 'us-east-1',
      ISSUER: BASE,
      ...process.env,
      WECHAT_API_BASE: WECHAT,
      RUST_LOG: 'info',
      ...env,
      PORT: '0',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  // Its log, for when a test that uses it fails.
  const log = createWriteStream(join(tmpdir(), `wxauth-sdk-local-server-${process.pid}.log`));
  child.once('exit', () => log.end());
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`wxauth-local did not start in 20 s: ${output}`));
    }, 20000);
    const onData = (chunk) => {
      output += chunk;
      log.write(chunk);
      const m = /listening on (http:\/\/\S+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve({
          url: m[1],
          stop: () =>
            new Promise((done) => {
              if (child.exitCode !== null) return done();
              child.once('exit', () => done());
              child.kill('SIGTERM');
            }),
        });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk) => {
      output += chunk;
      log.write(chunk);
    });
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`wxauth-local exited (${code}): ${output}`));
    });
  });
}

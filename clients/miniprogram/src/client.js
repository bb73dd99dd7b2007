'use strict';
// The client: login with wx.login(), tokens kept fresh, authenticated wx.request, WeChat data.
//
// Concurrency: one login and one refresh in flight at a time (single-flight.js); every caller
// while one runs waits for it and gets its outcome. See README.md for the guarantees.

const { WxAuthError, codes } = require('./errors');
const { singleFlight } = require('./single-flight');
const { TokenStore, fromTokenResponse, needsRefresh } = require('./token-store');
const http = require('./http');

const WECHAT_GRANT = 'urn:wxauth:grant-type:wechat-code';

const DEFAULTS = {
  // Refresh this long before the access token expires (capped at half its lifetime).
  clockSkewMs: 60000,
  // 429/503 with Retry-After: how many retries, and the longest wait the SDK accepts.
  maxRetries: 2,
  maxRetryDelayMs: 10000,
  // wx.request and wx.login timeout for the SDK's own calls (WeChat's default is 60 s).
  timeoutMs: 10000,
  // A refresh that got no answer is sent again, with the same refresh token, this often.
  lostRefreshRetries: 2,
  lostRefreshDelayMs: 300,
};

function globalWx() {
  // eslint-disable-next-line no-undef
  return typeof wx !== 'undefined' ? wx : undefined;
}

function setting(options, name) {
  const value = options[name];
  if (value === undefined) return DEFAULTS[name];
  if (typeof value !== 'number' || !(value >= 0)) {
    throw new TypeError('createClient: ' + name + ' must be a number >= 0');
  }
  return value;
}

function noop() {}

/**
 * @param {{baseUrl: string, clientId: string, scope?: string, storage?: object, wx?: object,
 *          now?: () => number, sleep?: (ms: number) => Promise<void>, clockSkewMs?: number,
 *          maxRetries?: number, maxRetryDelayMs?: number, timeoutMs?: number,
 *          lostRefreshRetries?: number, lostRefreshDelayMs?: number}} options
 */
function createClient(options) {
  const o = options || {};
  if (typeof o.baseUrl !== 'string' || !/^https?:\/\/[^/]/i.test(o.baseUrl)) {
    throw new TypeError('createClient: baseUrl must be the http(s) URL of the wxauth server');
  }
  if (typeof o.clientId !== 'string' || !o.clientId) {
    throw new TypeError('createClient: clientId is required');
  }
  if (o.scope !== undefined && typeof o.scope !== 'string') {
    throw new TypeError('createClient: scope must be a space-separated string');
  }
  const wxApi = o.wx || globalWx();
  if (!wxApi || typeof wxApi.request !== 'function' || typeof wxApi.login !== 'function') {
    throw new TypeError('createClient: no wx API (outside a mini program, pass options.wx)');
  }
  const baseUrl = o.baseUrl.replace(/\/+$/, '');
  const clientId = o.clientId;
  const scope = o.scope;
  const now = o.now || Date.now;
  const sleep = o.sleep || ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  const clockSkewMs = setting(o, 'clockSkewMs');
  const timeoutMs = setting(o, 'timeoutMs');
  const lostRefreshRetries = setting(o, 'lostRefreshRetries');
  const lostRefreshDelayMs = setting(o, 'lostRefreshDelayMs');
  const policy = { maxRetries: setting(o, 'maxRetries'), maxDelayMs: setting(o, 'maxRetryDelayMs'), now, sleep };
  const store = new TokenStore(o.storage || wxApi, clientId);

  // Restored on app start.
  let tokens = store.load();

  function publicTokens(t) {
    if (!t) return null;
    return {
      accessToken: t.accessToken,
      tokenType: t.tokenType,
      idToken: t.idToken,
      scope: t.scope,
      openid: t.openid,
      unionid: t.unionid,
      expiresAt: t.expiresAt,
    };
  }

  function adopt(record) {
    tokens = record;
    store.save(record);
    return publicTokens(record);
  }

  function forget() {
    tokens = null;
    store.clear();
  }

  function postForm(path, form) {
    return http.send(wxApi, {
      url: baseUrl + path,
      method: 'POST',
      header: { 'content-type': 'application/x-www-form-urlencoded' },
      data: http.formEncode(form),
      dataType: 'json',
      timeout: timeoutMs,
    });
  }

  function wxLogin() {
    return new Promise((resolve, reject) => {
      const fail = (err) => {
        reject(new WxAuthError(codes.WX_LOGIN_FAILED, (err && (err.errMsg || err.message)) || 'login:fail', { cause: err }));
      };
      try {
        wxApi.login({
          timeout: timeoutMs,
          success: (res) => {
            if (res && typeof res.code === 'string' && res.code) resolve(res.code);
            else reject(new WxAuthError(codes.WX_LOGIN_FAILED, 'wx.login gave no code', { cause: res }));
          },
          fail,
        });
      } catch (e) {
        fail(e);
      }
    });
  }

  // One wx.login() and one token request; on 429/503 with Retry-After, again with a fresh code
  // (a code that reached WeChat may be spent, and wx.login costs the user nothing).
  async function doLogin() {
    let sentAt = 0;
    const res = await http.withRetries(async () => {
      const code = await wxLogin();
      sentAt = now();
      return postForm('/oauth/token', { grant_type: WECHAT_GRANT, client_id: clientId, code, scope });
    }, policy);
    if (res.statusCode !== 200) throw http.errorFromResponse(res, now());
    return adopt(fromTokenResponse(http.jsonBody(res.data), sentAt, null));
  }

  // The refresh, with the lost-answer retry (README.md, "A refresh whose answer is lost"): a
  // request that got no answer is sent again with the same refresh token, promptly and at most
  // `lostRefreshRetries` times. The server either never saw it (a plain rotation), or rotated it
  // moments ago (within REFRESH_REUSE_GRACE it replaces the successor we never received; past
  // the grace it revokes the family and answers invalid_grant: one fresh login).
  async function doRefresh() {
    const current = tokens;
    if (!current || !current.refreshToken) return login();
    const form = { grant_type: 'refresh_token', client_id: clientId, refresh_token: current.refreshToken };
    let lost = 0;
    for (;;) {
      const sentAt = now();
      let res;
      try {
        res = await http.withRetries(() => postForm('/oauth/token', form), policy);
      } catch (e) {
        if (e instanceof WxAuthError && e.error === codes.NETWORK_ERROR && lost < lostRefreshRetries) {
          lost += 1;
          await sleep(lostRefreshDelayMs * lost);
          continue;
        }
        throw e;
      }
      if (res.statusCode === 200) {
        const next = fromTokenResponse(http.jsonBody(res.data), sentAt, current);
        // A login that finished meanwhile is a newer sign-in: keep it.
        if (tokens !== current && tokens) return publicTokens(tokens);
        return adopt(next);
      }
      const error = http.errorFromResponse(res, now());
      if (error.error !== 'invalid_grant') throw error;
      // Expired, revoked, or reused: the family is over. One fresh login, never a loop (a
      // login does not refresh).
      if (tokens === current) forget();
      return login();
    }
  }

  const login = singleFlight(doLogin);
  const refresh = singleFlight(doRefresh);

  function getAccessToken() {
    const t = tokens;
    if (!t) return login().then((x) => x.accessToken);
    if (!needsRefresh(t, now(), clockSkewMs)) return Promise.resolve(t.accessToken);
    return refresh().then((x) => x.accessToken);
  }

  // After a 401 invalid_token for `rejected`: a token that another caller's refresh brought
  // meanwhile, or the (single) refresh.
  function renewRejected(rejected) {
    const t = tokens;
    if (t && t.accessToken !== rejected && !needsRefresh(t, now(), clockSkewMs)) {
      return Promise.resolve(t.accessToken);
    }
    return refresh().then((x) => x.accessToken);
  }

  function resolveUrl(url) {
    if (/^https?:\/\//i.test(url)) return url;
    return baseUrl + (url.charAt(0) === '/' ? url : '/' + url);
  }

  function withBearer(header, token) {
    const out = {};
    Object.keys(header || {}).forEach((name) => {
      if (name.toLowerCase() !== 'authorization') out[name] = header[name];
    });
    out.Authorization = 'Bearer ' + token;
    return out;
  }

  async function request(options) {
    if (!options || typeof options.url !== 'string' || !options.url) {
      throw new WxAuthError(codes.INVALID_ARGUMENT, 'request: options.url is required');
    }
    const base = Object.assign({}, options, { url: resolveUrl(options.url) });
    delete base.success;
    delete base.fail;
    delete base.complete;
    const sendWith = (token) =>
      http.withRetries(
        () => http.send(wxApi, Object.assign({}, base, { header: withBearer(options.header, token) })),
        policy,
      );
    let token = await getAccessToken();
    let res = await sendWith(token);
    if (http.isInvalidToken(res)) {
      // Refreshed once, retried once.
      token = await renewRejected(token);
      res = await sendWith(token);
    }
    if (res.statusCode >= 200 && res.statusCode < 300) return res;
    throw http.errorFromResponse(res, now());
  }

  function postJson(path, body) {
    return request({ url: path, method: 'POST', header: { 'content-type': 'application/json' }, data: body });
  }

  async function sessionKeyRenewed() {
    await login();
    throw new WxAuthError(
      codes.SESSION_KEY_RENEWED,
      'the WeChat session key was stale and has been renewed: get the data from WeChat again, then decrypt it',
      { status: 400 },
    );
  }

  async function decrypt(input) {
    const i = input || {};
    if (typeof i.encryptedData !== 'string' || typeof i.iv !== 'string') {
      throw new WxAuthError(codes.INVALID_ARGUMENT, 'decrypt: encryptedData and iv are required');
    }
    const session = await request({ url: '/wechat/session', method: 'GET' });
    const health = http.jsonBody(session.data);
    if (!health || health.valid !== true) return sessionKeyRenewed();
    const body = { encrypted_data: i.encryptedData, iv: i.iv };
    if (i.rawData !== undefined) body.raw_data = i.rawData;
    if (i.signature !== undefined) body.signature = i.signature;
    if (i.requireSignature) body.require_signature = true;
    let res;
    try {
      res = await postJson('/wechat/decrypt', body);
    } catch (e) {
      if (e instanceof WxAuthError && e.error === 'invalid_session_key') return sessionKeyRenewed();
      throw e;
    }
    return http.jsonBody(res.data);
  }

  async function phoneNumber(code) {
    if (typeof code !== 'string' || !code) {
      throw new WxAuthError(codes.INVALID_ARGUMENT, 'phoneNumber: the code from the getPhoneNumber event is required');
    }
    const res = await postJson('/wechat/phone', { code });
    return http.jsonBody(res.data);
  }

  // Scan to sign in on a computer (README.md): the page a desktop's mini-program code opens gets
  // the ticket as `options.scene`, and answers it with the user's access token.
  function scanScene(method, scene) {
    const where = 'scan.' + method + ': ';
    if (typeof scene !== 'string') {
      throw new WxAuthError(codes.INVALID_ARGUMENT, where + 'the scene (options.scene of the page the code opened) is required');
    }
    let value = scene;
    // WeChat hands the scene to the page URL-encoded; a ticket itself never has a '%'.
    if (value.indexOf('%') >= 0) {
      try {
        value = decodeURIComponent(value);
      } catch (e) {
        throw new WxAuthError(codes.INVALID_ARGUMENT, where + 'the scene is not validly URL-encoded', { cause: e });
      }
    }
    if (value.length < 1 || value.length > 32) {
      throw new WxAuthError(codes.INVALID_ARGUMENT, where + 'the scene must be 1 to 32 characters');
    }
    return value;
  }

  // POST /wechat/scan. Each action is idempotent for the same user, so the request's retries
  // (429/503 with Retry-After, and once after 401 invalid_token) are safe.
  async function scanAnswer(method, action, scene) {
    const value = scanScene(method, scene);
    const res = await postJson('/wechat/scan', { scene: value, action });
    const body = http.jsonBody(res.data);
    if (!body || typeof body !== 'object' || typeof body.status !== 'string') {
      throw new WxAuthError(codes.INVALID_RESPONSE, 'scan.' + method + ': the answer has no status', {
        status: res.statusCode,
        data: body,
        header: res.header,
      });
    }
    return body;
  }

  const scan = Object.freeze({
    inspect: (scene) => scanAnswer('inspect', 'scanned', scene),
    approve: (scene) => scanAnswer('approve', 'approve', scene),
    deny: (scene) => scanAnswer('deny', 'deny', scene),
  });

  async function logout() {
    // A login or refresh in flight finishes first: what is revoked is then the latest refresh
    // token, and nothing stores tokens after they were cleared.
    for (;;) {
      const pending = login.pending() || refresh.pending();
      if (!pending) break;
      await pending.then(noop, noop);
    }
    const t = tokens;
    // Cleared before the revocation and whatever its outcome: offline, the refresh token stays
    // valid on the server until it expires, but this device no longer has it.
    forget();
    if (!t || !t.refreshToken) return { revoked: false };
    try {
      const form = { client_id: clientId, token: t.refreshToken, token_type_hint: 'refresh_token' };
      const res = await http.withRetries(() => postForm('/oauth/revoke', form), policy);
      if (res.statusCode === 200) return { revoked: true };
      return { revoked: false, error: http.errorFromResponse(res, now()) };
    } catch (e) {
      return { revoked: false, error: e };
    }
  }

  return {
    login,
    getAccessToken,
    request,
    decrypt,
    phoneNumber,
    scan,
    logout,
    getTokens: () => publicTokens(tokens),
  };
}

module.exports = { createClient, DEFAULTS };

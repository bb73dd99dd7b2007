// A `wx` that behaves as WeChat's does, for the SDK's tests:
//
// - wx.login({success, fail}) yields mock codes the mock WeChat accepts: `ok-<name>` the first
//   time, then `ok-<name>~<n>` (the same user, a new session key), unless `codes` says otherwise
//   (a list, one per call; its last entry repeats; null keeps the convention; an Error entry
//   makes that call fail);
// - wx.request({url, method, data, header, timeout, dataType, success, fail}) over real HTTP
//   (node's fetch), with WeChat's callback shapes: success({statusCode, data, header, cookies})
//   for every status, data parsed as JSON when it is JSON; fail({errMsg: 'request:fail ...'})
//   when there is no answer. Bodies are encoded as WeChat does: an object as JSON, or as a form
//   for `content-type: application/x-www-form-urlencoded`, or as the query of a GET;
// - getStorageSync / setStorageSync / removeStorageSync in memory, values copied through JSON
//   (as WeChat serializes them), '' for a missing key.
//
// It records every request (`calls`), and can lose answers: `loseAnswer(match)` lets the next
// request that `match` selects reach the server, keeps its answer in `lost`, and calls `fail`;
// `goOffline(match)` makes every request that `match` selects fail without being sent.

export function createFakeWx({ name, codes, storage } = {}) {
  const store = storage || new Map();
  const calls = [];
  const lost = [];
  const losing = [];
  const offline = [];
  let logins = 0;

  function nextCode() {
    const n = logins;
    logins += 1;
    const scripted = codes ? codes[Math.min(n, codes.length - 1)] : undefined;
    if (scripted !== undefined && scripted !== null) return scripted;
    return n === 0 ? `ok-${name}` : `ok-${name}~${n}`;
  }

  function encodeForm(data) {
    return Object.entries(data)
      .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
      .join('&');
  }

  const wx = {
    login({ success, fail } = {}) {
      const code = nextCode();
      setTimeout(() => {
        if (code instanceof Error) fail && fail({ errMsg: `login:fail ${code.message}` });
        else success && success({ code, errMsg: 'login:ok' });
      }, 1);
    },

    request({ url, method = 'GET', data, header = {}, timeout = 60000, dataType = 'json', success, fail, complete }) {
      const headers = {};
      for (const [k, v] of Object.entries(header)) headers[k.toLowerCase()] = String(v);
      const upper = method.toUpperCase();
      let target = url;
      let body;
      if (upper === 'GET' || upper === 'HEAD') {
        if (data && typeof data === 'object') target += (url.includes('?') ? '&' : '?') + encodeForm(data);
        else if (typeof data === 'string' && data) target += (url.includes('?') ? '&' : '?') + data;
      } else if (typeof data === 'string') {
        body = data;
      } else if (data !== undefined && data !== null) {
        if (!headers['content-type']) headers['content-type'] = 'application/json';
        body = headers['content-type'].startsWith('application/x-www-form-urlencoded')
          ? encodeForm(data)
          : JSON.stringify(data);
      }
      const call = { url: target, method: upper, header: headers, body: body || '' };
      calls.push(call);
      const done = (fn, arg) => {
        fn && fn(arg);
        complete && complete(arg);
      };
      if (offline.some((match) => match(call))) {
        call.offline = true;
        setTimeout(() => done(fail, { errMsg: 'request:fail -106:net::ERR_INTERNET_DISCONNECTED' }), 1);
        return { abort() {} };
      }
      const rule = losing.findIndex((match) => match(call));
      const loseIt = rule >= 0;
      if (loseIt) losing.splice(rule, 1);
      fetch(target, { method: upper, headers, body, signal: AbortSignal.timeout(timeout) })
        .then(async (res) => {
          const text = await res.text();
          let parsed = text;
          if (dataType === 'json') {
            try {
              parsed = JSON.parse(text);
            } catch {
              parsed = text;
            }
          }
          const resHeader = {};
          res.headers.forEach((v, k) => {
            resHeader[k] = v;
          });
          const answer = { statusCode: res.status, data: parsed, header: resHeader, cookies: [], errMsg: 'request:ok' };
          if (loseIt) {
            // The server did all its work; the answer never reaches the mini program.
            lost.push({ call, answer });
            done(fail, { errMsg: 'request:fail timeout' });
          } else {
            done(success, answer);
          }
        })
        .catch((e) => done(fail, { errMsg: `request:fail ${e.cause ? e.cause.code || e.cause.message : e.message}` }));
      return { abort() {} };
    },

    getStorageSync(key) {
      return store.has(key) ? JSON.parse(store.get(key)) : '';
    },
    setStorageSync(key, value) {
      store.set(key, JSON.stringify(value));
    },
    removeStorageSync(key) {
      store.delete(key);
    },
  };

  return {
    wx,
    storage: store,
    calls,
    lost,
    get logins() {
      return logins;
    },
    loseAnswer(match) {
      losing.push(match);
    },
    goOffline(match = () => true) {
      offline.push(match);
    },
    /** Requests to the token endpoint with this grant type. */
    grants(type) {
      return calls.filter(
        (c) => c.url.endsWith('/oauth/token') && new URLSearchParams(c.body).get('grant_type') === type,
      );
    },
    to(path) {
      return calls.filter((c) => new URL(c.url).pathname === path);
    },
  };
}

/** Matches a refresh-token grant request. */
export const isRefresh = (call) =>
  call.url.endsWith('/oauth/token') && new URLSearchParams(call.body).get('grant_type') === 'refresh_token';

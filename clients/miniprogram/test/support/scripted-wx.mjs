// A `wx` for unit tests: no network. wx.request calls `answer(call)` with the parsed request
// ({url, path, method, header, form, json}) and delivers what it returns — {status, body,
// header} to `success`, or the string 'network' to `fail` — asynchronously, as WeChat does.
// wx.login yields code-1, code-2, ...; storage is in memory.

export function scriptedWx(answer) {
  const calls = [];
  const storage = new Map();
  let logins = 0;
  const wx = {
    login({ success }) {
      logins += 1;
      const code = `code-${logins}`;
      setTimeout(() => success({ code, errMsg: 'login:ok' }), 0);
    },
    request(options) {
      const url = new URL(options.url);
      const type = Object.entries(options.header || {}).find(([k]) => k.toLowerCase() === 'content-type');
      const call = {
        url: options.url,
        path: url.pathname,
        method: options.method || 'GET',
        header: options.header || {},
        form: type && type[1].startsWith('application/x-www-form-urlencoded')
          ? Object.fromEntries(new URLSearchParams(options.data))
          : null,
        json: type && type[1] === 'application/json' ? options.data : null,
      };
      calls.push(call);
      Promise.resolve()
        .then(() => answer(call))
        .then((r) => {
          if (r === 'network') options.fail({ errMsg: 'request:fail timeout' });
          else options.success({ statusCode: r.status, data: r.body, header: r.header || {} });
        });
    },
    getStorageSync: (key) => (storage.has(key) ? JSON.parse(storage.get(key)) : ''),
    setStorageSync: (key, value) => storage.set(key, JSON.stringify(value)),
    removeStorageSync: (key) => storage.delete(key),
  };
  return {
    wx,
    calls,
    storage,
    get logins() {
      return logins;
    },
    grants: (type) => calls.filter((c) => c.path === '/oauth/token' && c.form.grant_type === type),
  };
}

/** A token answer as wxauth gives it. */
export function tokenBody(n, extra = {}) {
  return {
    status: 200,
    body: {
      access_token: `at-${n}`,
      token_type: 'Bearer',
      expires_in: 900,
      refresh_token: `rt-${n}`,
      scope: 'openid',
      ...extra,
    },
  };
}

export const oauthError = (status, error, header = {}) => ({
  status,
  body: { error, error_description: `${error} (scripted)` },
  header,
});

/** Resolves after every pending timer and microtask so far. */
export const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

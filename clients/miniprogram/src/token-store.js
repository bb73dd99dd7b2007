'use strict';
// The tokens of one client, in memory and in the mini program's storage (wx.setStorageSync),
// under a key of their own per client id (`wxauth:<clientId>:tokens`), so two clients in one mini
// program never read each other's tokens. Times are milliseconds of the client's clock.

const { WxAuthError, codes } = require('./errors');

const FORMAT = 1;

/** The storage key of a client's tokens. */
function storageKey(clientId) {
  return 'wxauth:' + clientId + ':tokens';
}

/**
 * The record kept for a token response. `issuedAt` is when the request was sent (not when the
 * answer came): the token's lifetime is counted from no later than the server's own clock
 * started it. Fields the answer leaves out (a refresh answer has no openid) are kept from
 * `previous`.
 */
function fromTokenResponse(body, issuedAt, previous) {
  if (!body || typeof body !== 'object' || typeof body.access_token !== 'string' || !body.access_token) {
    throw new WxAuthError(codes.INVALID_RESPONSE, 'the token endpoint answered without an access_token', {
      status: 200,
      data: body,
    });
  }
  const prev = previous || {};
  const lifetime = Number(body.expires_in);
  return {
    v: FORMAT,
    accessToken: body.access_token,
    tokenType: typeof body.token_type === 'string' ? body.token_type : 'Bearer',
    // Rotated on every refresh by wxauth; kept when a server answers without one (RFC 6749 §6).
    refreshToken: typeof body.refresh_token === 'string' ? body.refresh_token : prev.refreshToken || null,
    idToken: typeof body.id_token === 'string' ? body.id_token : prev.idToken || null,
    scope: typeof body.scope === 'string' ? body.scope : prev.scope || '',
    openid: typeof body.openid === 'string' ? body.openid : prev.openid || null,
    unionid: typeof body.unionid === 'string' ? body.unionid : prev.unionid || null,
    issuedAt,
    // Unknown without expires_in: then the token is used until the server refuses it (401).
    expiresAt: isFinite(lifetime) && lifetime >= 0 ? issuedAt + lifetime * 1000 : null,
  };
}

/**
 * Whether the access token should be refreshed now: within `skewMs` of its expiry (the margin
 * absorbs the request's own latency and clocks that differ between this phone, the server and
 * your API), capped at half its lifetime so that a short-lived token is not refreshed on every
 * call. A clock that went back before the token was issued makes its expiry meaningless: refresh.
 */
function needsRefresh(tokens, now, skewMs) {
  if (!tokens) return true;
  if (tokens.expiresAt === null || tokens.expiresAt === undefined) return false;
  if (now < tokens.issuedAt) return true;
  const margin = Math.min(skewMs, Math.max(0, (tokens.expiresAt - tokens.issuedAt) / 2));
  return now >= tokens.expiresAt - margin;
}

function isRecord(value) {
  return (
    !!value &&
    typeof value === 'object' &&
    value.v === FORMAT &&
    typeof value.accessToken === 'string' &&
    typeof value.issuedAt === 'number'
  );
}

class TokenStore {
  /**
   * @param {{getStorageSync: Function, setStorageSync: Function, removeStorageSync: Function}} storage
   * @param {string} clientId
   */
  constructor(storage, clientId) {
    this.storage = storage;
    this.key = storageKey(clientId);
  }

  /** The stored tokens (restored on app start), or null: absent, unreadable or of another format. */
  load() {
    let value;
    try {
      value = this.storage.getStorageSync(this.key);
    } catch (e) {
      return null;
    }
    // WeChat answers '' for a missing key; a string may be a JSON copy.
    if (typeof value === 'string' && value) {
      try {
        value = JSON.parse(value);
      } catch (e) {
        return null;
      }
    }
    return isRecord(value) ? value : null;
  }

  /**
   * Persists `tokens`. A failed write (storage full) is not fatal: the tokens stay in memory
   * for this run, and the next app start finds the previous ones (a refresh token then
   * already rotated, which the server refuses: one fresh login). Returns whether it was stored.
   */
  save(tokens) {
    try {
      this.storage.setStorageSync(this.key, tokens);
      return true;
    } catch (e) {
      return false;
    }
  }

  clear() {
    try {
      this.storage.removeStorageSync(this.key);
    } catch (e) {
      // Nothing more to do: the in-memory copy is gone already.
    }
  }
}

module.exports = { TokenStore, storageKey, fromTokenResponse, needsRefresh };

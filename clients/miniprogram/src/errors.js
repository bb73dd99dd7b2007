'use strict';
// The one error type of the SDK. `error` is the OAuth error code the server answered
// (RFC 6749 §5.2, RFC 6750 §3.1: invalid_grant, invalid_token, temporarily_unavailable, ...)
// or one of the SDK's own codes below; `status` is the HTTP status (0 when there was no answer).

const codes = Object.freeze({
  /** wx.request failed without an answer (offline, DNS, timeout, TLS). */
  NETWORK_ERROR: 'network_error',
  /** wx.login failed or gave no code. */
  WX_LOGIN_FAILED: 'wx_login_failed',
  /**
   * The stored WeChat session key was stale, so the SDK logged in again: data encrypted under
   * the old key cannot be decrypted any more. Ask the user for it again (getUserProfile,
   * getWeRunData, ...), then call decrypt() with the new data.
   */
  SESSION_KEY_RENEWED: 'session_key_renewed',
  /** A 2xx answer with a body the SDK cannot use. */
  INVALID_RESPONSE: 'invalid_response',
  /** A 4xx/5xx answer without an OAuth error code (an API of yours, a proxy's bare 5xx). */
  HTTP_ERROR: 'http_error',
  /** Bad arguments to an SDK method. */
  INVALID_ARGUMENT: 'invalid_argument',
});

class WxAuthError extends Error {
  /**
   * @param {string} error  an OAuth error code or one of `codes`
   * @param {string} [description]
   * @param {{status?: number, retryAfter?: number|null, data?: any, header?: object, cause?: any}} [details]
   */
  constructor(error, description, details) {
    super(description ? error + ': ' + description : error);
    const d = details || {};
    this.name = 'WxAuthError';
    this.error = error;
    this.description = description || '';
    this.status = typeof d.status === 'number' ? d.status : 0;
    /** Seconds, from the answer's Retry-After, when it had one. */
    this.retryAfter = typeof d.retryAfter === 'number' ? d.retryAfter : null;
    this.data = d.data;
    this.header = d.header;
    if (d.cause !== undefined) this.cause = d.cause;
  }
}

module.exports = { WxAuthError, codes };

'use strict';
// wx.request as a promise, and what the SDK reads from answers: errors (RFC 6749 §5.2 bodies,
// RFC 6750 WWW-Authenticate challenges) and Retry-After (RFC 9110 §10.2.3), with the bounded
// retry of 429 and 503.

const { WxAuthError, codes } = require('./errors');

/** application/x-www-form-urlencoded, without URLSearchParams (mini programs lack it). */
function formEncode(fields) {
  const parts = [];
  Object.keys(fields).forEach((name) => {
    const value = fields[name];
    if (value === undefined || value === null) return;
    parts.push(encodeURIComponent(name) + '=' + encodeURIComponent(String(value)));
  });
  return parts.join('&');
}

/** A header of a wx.request answer, by case-insensitive name; '' when absent. */
function headerValue(header, name) {
  if (!header || typeof header !== 'object') return '';
  const wanted = name.toLowerCase();
  const keys = Object.keys(header);
  for (let i = 0; i < keys.length; i++) {
    if (keys[i].toLowerCase() === wanted) {
      const value = header[keys[i]];
      return Array.isArray(value) ? value.join(', ') : String(value);
    }
  }
  return '';
}

/**
 * Retry-After as milliseconds from `now`: delay-seconds ("120") or an HTTP-date ("Wed, 21 Oct
 * 2015 07:28:00 GMT"; a date in the past is 0). null when absent or unreadable.
 */
function parseRetryAfter(value, now) {
  if (value === undefined || value === null) return null;
  const text = String(value).trim();
  if (!text) return null;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // Each of the three HTTP-date forms (IMF-fixdate, RFC 850, asctime) starts with the weekday
  // and has hh:mm:ss: refuse anything else that Date.parse would guess at ("1.5").
  if (!/^[A-Za-z]{3}/.test(text) || !/\d{2}:\d{2}:\d{2}/.test(text)) return null;
  // asctime names no zone but means GMT, as every HTTP-date does (Date.parse would take local time).
  const at = Date.parse(/GMT$/.test(text) ? text : text + ' GMT');
  if (!isFinite(at)) return null;
  return Math.max(0, at - now);
}

/** The parameters of a `Bearer` challenge (RFC 6750 §3): {error, error_description, ...}. */
function bearerChallenge(header) {
  const value = headerValue(header, 'www-authenticate');
  const params = {};
  const m = /(?:^|,)\s*Bearer(?:\s+|$)(.*)$/i.exec(value);
  if (!m) return null;
  const re = /([A-Za-z_][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]+))/g;
  let p;
  while ((p = re.exec(m[1])) !== null) {
    if (!(p[1] in params)) params[p[1]] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3];
  }
  return params;
}

/** A body parsed as JSON when it is JSON text (wx.request parses JSON itself; a proxy may not). */
function jsonBody(data) {
  if (typeof data !== 'string') return data;
  try {
    return JSON.parse(data);
  } catch (e) {
    return data;
  }
}

/** A 401 that says the access token itself is bad (expired, revoked, of a deleted user). */
function isInvalidToken(res) {
  if (!res || res.statusCode !== 401) return false;
  const challenge = bearerChallenge(res.header);
  if (challenge && challenge.error === 'invalid_token') return true;
  const body = jsonBody(res.data);
  return !!body && typeof body === 'object' && body.error === 'invalid_token';
}

/** The WxAuthError for a non-2xx answer. */
function errorFromResponse(res, now) {
  const body = jsonBody(res.data);
  const challenge = bearerChallenge(res.header) || {};
  const fromBody = !!body && typeof body === 'object' && typeof body.error === 'string';
  const error = fromBody ? body.error : challenge.error || codes.HTTP_ERROR;
  let description = fromBody ? body.error_description : challenge.error_description;
  if (typeof description !== 'string') description = 'HTTP ' + res.statusCode;
  const wait = parseRetryAfter(headerValue(res.header, 'retry-after'), now);
  return new WxAuthError(error, description, {
    status: res.statusCode,
    retryAfter: wait === null ? null : Math.ceil(wait / 1000),
    data: body,
    header: res.header,
  });
}

/**
 * wx.request as a promise of its success object ({statusCode, data, header}, whatever the
 * status); a failure without an answer rejects with `network_error`.
 */
function send(wx, options) {
  return new Promise((resolve, reject) => {
    const request = Object.assign({}, options, {
      success: (res) => resolve(res),
      fail: (err) => {
        const message = err && err.errMsg ? err.errMsg : 'request:fail';
        reject(new WxAuthError(codes.NETWORK_ERROR, message, { cause: err }));
      },
    });
    delete request.complete;
    try {
      wx.request(request);
    } catch (e) {
      // wx.request throws on options it cannot take (a bad url or method).
      reject(new WxAuthError(codes.INVALID_ARGUMENT, 'wx.request: ' + (e && e.message ? e.message : String(e)), { cause: e }));
    }
  });
}

/**
 * How long to wait before retrying `res`, or null not to retry: only 429 and 503 that carry a
 * Retry-After, at most `policy.maxRetries` times (`attempt` counts from 0), and only when the
 * wait is at most `policy.maxDelayMs` (retrying earlier than the server asked would only be
 * refused again: the error goes to the caller with its `retryAfter` instead).
 */
function retryDelay(res, attempt, policy) {
  if (!res || (res.statusCode !== 429 && res.statusCode !== 503)) return null;
  if (attempt >= policy.maxRetries) return null;
  const wait = parseRetryAfter(headerValue(res.header, 'retry-after'), policy.now());
  if (wait === null || wait > policy.maxDelayMs) return null;
  return wait;
}

/**
 * Runs `attempt(n)` (a promise of a wx.request answer) and again while retryDelay() says so.
 * Rejections (no answer) are not retried here.
 */
function withRetries(attempt, policy) {
  let n = 0;
  const once = () =>
    attempt(n).then((res) => {
      const wait = retryDelay(res, n, policy);
      if (wait === null) return res;
      n += 1;
      return policy.sleep(wait).then(once);
    });
  return once();
}

module.exports = {
  formEncode,
  headerValue,
  parseRetryAfter,
  bearerChallenge,
  jsonBody,
  isInvalidToken,
  errorFromResponse,
  send,
  retryDelay,
  withRetries,
};

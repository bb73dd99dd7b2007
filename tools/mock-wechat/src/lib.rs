//! # mock-wechat
//!
//! A stand-in for the WeChat server API, for local development and
//! integration tests. It speaks the real API: same paths, parameters, field
//! names, error codes and messages, and — like WeChat — serves every JSON
//! answer of its WeChat routes with HTTP 200 and `Content-Type: text/plain`.
//! Error answers are `{"errcode": N, "errmsg": "<WeChat's text>, rid: <hex>"}`.
//! Its behaviour is driven by the *names* of the codes a test sends, by an
//! optional fixtures file, and by a few control endpoints under `/mock/`.
//!
//! ## Running
//!
//! `cargo run -p mock-wechat` binds `127.0.0.1:$MOCK_WECHAT_PORT` (default
//! 3100; `0` picks a free port) and prints exactly one line to stdout,
//! `mock-wechat listening on http://127.0.0.1:<port>`. `MOCK_WECHAT_FIXTURES`
//! may name a JSON fixtures file (see below). All state is in memory; every
//! key includes the appid (or the code's name), so parallel tests using
//! distinct appids or names never interfere.
//!
//! ## `GET /sns/jscode2session?appid=&secret=&js_code=&grant_type=authorization_code`
//!
//! Checks, in order: missing `appid` → 41002 `appid missing`; missing `secret`
//! → 41004 `appsecret missing`; missing `js_code` → 41008 `missing code`;
//! `grant_type` other than `authorization_code` → 40002 `invalid grant_type`;
//! a secret different from the appid's registered one → 40125 `invalid
//! appsecret` (unregistered appids accept any secret). Then the code:
//!
//! | code | answer |
//! |---|---|
//! | a fixture code (file or `POST /mock/codes`) | its session, once (then 40163 `code been used`), only for its appid (else 40029, without consuming it), within 5 minutes of registration (else 40029). An `{"errcode": N}` fixture answers N every time, for any appid. Fixtures take precedence over the conventions below. |
//! | `ok-<name>` | once: `{"openid": "openid-<base>", "session_key": <key(name)>}`; again → 40163 `code been used` |
//! | `ok-<name>.u` | the same plus `"unionid": "unionid-<base>"` (`name` excludes the `.u`) |
//! | `busy-<name>[.u]` | first -1 `system error`, then once as `ok-<name>[.u]`, then 40163 |
//! | `err-<errcode>` | that error every time: `err-40029` `invalid code`, `err-45011` `api minute-quota reach limit  mustslower  retry next minute`, `err-40226` `high risk user`, `err--1` `system error`, other codes `mock error` |
//! | anything else (also `err-0`, an empty `<base>`) | 40029 `invalid code` |
//!
//! `<name>` may contain a nonce after `~`: `<base>` is the part before the
//! first `~`, so `ok-alice` and `ok-alice~2` log the same user
//! (`openid-alice`) in with different session keys. Convention codes are
//! tracked per (appid, code): the same code works once *per appid*, and
//! expires 5 minutes after the mock first saw it (40029).
//!
//! **Session key derivation** (deterministic, so tests can predict it):
//!
//! ```text
//! key(name) = base64(sha256("mock-wechat session key:" + name)[..16])
//! ```
//!
//! standard base64 with padding, 24 characters like WeChat's; `name` is the
//! whole name including any `~nonce` (e.g. `key("alice")` =
//! `lZkgn5mSWbRrTaDccau6Mw==`, `key("alice~2")` = `PijbO+afwXMz5uvw7jsOng==`).
//! The mock remembers the latest session key issued per (appid, openid).
//!
//! ## `POST /cgi-bin/stable_token`
//!
//! Body `{"grant_type": "client_credential", "appid", "secret", "force_refresh": bool?}`
//! → `{"access_token": "<random>", "expires_in": 7200}`. Without
//! `force_refresh` the same token is returned until it expires, with the
//! remaining `expires_in` (rounded up to whole seconds); once expired a new
//! one is issued. `force_refresh: true` always issues a new token and the old
//! one becomes invalid (40001). Errors: body not a JSON object, or a field of
//! the wrong type → 47001 `data format error`; 41002, 41004, 40002, 40125 as
//! for `jscode2session`.
//!
//! ## Access tokens (`getuserphonenumber`, `checksession`)
//!
//! Missing `access_token` → 41001 `access_token missing`; unknown or
//! superseded → 40001 `invalid credential, access_token is invalid or not
//! latest`; expired → 42001 `access_token expired`. A token acts for the
//! appid it was issued to.
//!
//! ## `POST /wxa/business/getuserphonenumber?access_token=`
//!
//! Body `{"code": "..."}` (not a JSON object → 47001; no code → 41008).
//! `phone-<digits>` answers, once per (appid, code) (then 40163), within 5
//! minutes of first sight:
//!
//! ```text
//! {"errcode":0,"errmsg":"ok","phone_info":{"phoneNumber":"<digits>","purePhoneNumber":"<digits>",
//!  "countryCode":"86","watermark":{"timestamp":<unix seconds>,"appid":"<the token's appid>"}}}
//! ```
//!
//! (`phoneNumber` carries an area code only for non-Chinese numbers, which
//! the mock does not produce). `err-<n>` answers that error every time
//! (-1, 40029, 45011 and 40001 are WeChat's documented ones); anything else
//! → 40029 `invalid code`.
//!
//! ## `GET /wxa/checksession?access_token=&signature=&openid=&sig_method=hmac_sha256`
//!
//! `{"errcode":0,"errmsg":"ok"}` when `signature` is the hex
//! HMAC-SHA256 with key = the session key's base64 *text* (as bytes) and an
//! empty message, for the latest session key issued to `openid` under the
//! token's appid (hex compared case-insensitively). Anything else (other
//! key, unknown openid, `sig_method` not `hmac_sha256`, missing signature)
//! → 87009 `invalid signature`.
//!
//! ## Fixtures file (`MOCK_WECHAT_FIXTURES`)
//!
//! ```text
//! {"codes": {"<code>": {"appid", "openid", "session_key", "unionid"?} | {"errcode": N}},
//!  "apps": {"<appid>": "<secret>"}}
//! ```
//!
//! Codes expire 5 minutes after the mock loaded the file.
//!
//! ## Control endpoints (not WeChat's; JSON in and out, `application/json`)
//!
//! - `POST /mock/apps` `{"appid", "secret"}` registers (or replaces) an app's secret.
//! - `POST /mock/codes` `{"code", "appid", "openid", "session_key", "unionid"?}`
//!   or `{"code", "errcode"}` adds (or replaces, as fresh) a fixture code.
//! - `POST /mock/access-tokens/expire` `{"appid"}` makes the app's current
//!   token expired (42001); `POST /mock/access-tokens/invalidate` `{"appid"}`
//!   makes it invalid (40001), as if another party had force-refreshed it.
//!   The next `stable_token` issues a new one. 404 if the app has no token.
//! - `GET /mock/calls?appid=X` → `{"jscode2session": n, "stable_token": n,
//!   "getuserphonenumber": n, "checksession": n}`. A call counts once its
//!   appid is known: from the `appid` parameter, or from a known (even
//!   expired or invalid) access token.
//! - `GET /mock/health` → 200 `ok`.
//!
//! These answer `{"ok": true}`, or 400/404 with `{"error": "..."}`. Any other
//! path answers a plain 404.

pub mod fixtures;
pub mod routes;
pub mod state;

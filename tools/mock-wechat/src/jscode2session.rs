//! Mini-program login: `GET /sns/jscode2session?appid=&secret=&js_code=&grant_type=authorization_code`.
//!
//! WeChat exchanges a `wx.login()` code for the user's `openid`, a
//! `session_key` (and a `unionid` when the app belongs to an open-platform
//! account). Its documented errors: 40029 `invalid code`, 40163 `code been
//! used`, 45011 (rate limit), 40226 `high risk user`, -1 `system error`.
//!
//! The mock checks, in order: missing `appid` → 41002 `appid missing`;
//! missing `secret` → 41004 `appsecret missing`; missing `js_code` → 41008
//! `missing code`; `grant_type` other than `authorization_code` → 40002
//! `invalid grant_type`; a secret different from the appid's registered one
//! → 40125 `invalid appsecret` (unregistered appids accept any secret). Then
//! the code:
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
//! The mock remembers the latest session key issued per (appid, openid), for
//! [`crate::checksession`].

use std::collections::HashMap;

use axum::extract::{RawQuery, State};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::errors::WxError;
use crate::routes::{AppState, answer, query_params};
use crate::state::{Api, CodeUse, Mock, present};

pub const PATH: &str = "/sns/jscode2session";

/// The prefix hashed with a code's name to derive its session key.
pub const SESSION_KEY_CONTEXT: &str = "mock-wechat session key:";

/// Query parameters of `GET /sns/jscode2session`.
#[derive(Debug, Default, Clone)]
pub struct Jscode2SessionRequest {
    pub appid: Option<String>,
    pub secret: Option<String>,
    pub js_code: Option<String>,
    pub grant_type: Option<String>,
}

/// A successful `jscode2session` answer (serializes to WeChat's body).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Session {
    pub openid: String,
    pub session_key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unionid: Option<String>,
}

/// A code registered by the fixtures file or `POST /mock/codes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FixtureCode {
    /// Valid once, for `appid` only, within [`crate::state::CODE_TTL_MS`] of registration.
    Session { appid: String, session: Session },
    /// Answers this errcode every time, for any appid.
    Error(i64),
}

/// `base64(sha256("mock-wechat session key:" + name)[..16])`: the session key
/// the code `ok-<name>` yields (24 characters, standard base64 with padding).
pub fn session_key_for(name: &str) -> String {
    let digest = Sha256::digest(format!("{SESSION_KEY_CONTEXT}{name}").as_bytes());
    STANDARD.encode(&digest[..16])
}

/// `jscode2session`'s part of [`Mock`]: its codes and the keys it issued.
#[derive(Debug, Default)]
pub(crate) struct Logins {
    fixtures: HashMap<String, FixtureEntry>,
    /// Convention login codes, by (appid, code).
    codes: HashMap<(String, String), CodeUse>,
    /// Latest session key issued, by (appid, openid).
    session_keys: HashMap<(String, String), String>,
}

#[derive(Debug)]
struct FixtureEntry {
    code: FixtureCode,
    usage: CodeUse,
}

/// What a login code means by its name alone.
#[derive(Debug, PartialEq, Eq)]
enum LoginConvention<'a> {
    /// `ok-<name>[.u]` or `busy-<name>[.u]`.
    Login { name: &'a str, base: &'a str, unionid: bool, busy: bool },
    /// `err-<errcode>`.
    Error(WxError),
}

fn parse_login_code(code: &str) -> Option<LoginConvention<'_>> {
    if let Some(err) = WxError::named_by_code(code) {
        return Some(LoginConvention::Error(err));
    }
    let (rest, busy) =
        if let Some(rest) = code.strip_prefix("ok-") { (rest, false) } else { (code.strip_prefix("busy-")?, true) };
    let (name, unionid) = match rest.strip_suffix(".u") {
        Some(name) => (name, true),
        None => (rest, false),
    };
    let base = name.split_once('~').map_or(name, |(base, _)| base);
    (!base.is_empty()).then_some(LoginConvention::Login { name, base, unionid, busy })
}

impl Mock {
    /// Registers (or replaces, as new and unused) a fixture login code.
    pub fn add_code(&mut self, code: &str, fixture: FixtureCode, now_ms: u64) {
        let entry = FixtureEntry { code: fixture, usage: CodeUse::new(now_ms) };
        self.logins.fixtures.insert(code.to_owned(), entry);
    }

    /// The latest session key issued to `openid` of `appid`.
    pub fn latest_session_key(&self, appid: &str, openid: &str) -> Option<&str> {
        let key = (appid.to_owned(), openid.to_owned());
        self.logins.session_keys.get(&key).map(String::as_str)
    }

    fn remember(&mut self, appid: &str, session: &Session) {
        let key = (appid.to_owned(), session.openid.clone());
        self.logins.session_keys.insert(key, session.session_key.clone());
    }

    /// `GET /sns/jscode2session`. Counts the call when an appid is given.
    pub fn jscode2session(&mut self, req: &Jscode2SessionRequest, now_ms: u64) -> Result<Session, WxError> {
        let appid = present(req.appid.as_deref()).ok_or(WxError::APPID_MISSING)?;
        self.count(appid, Api::Jscode2Session);
        let secret = present(req.secret.as_deref()).ok_or(WxError::APPSECRET_MISSING)?;
        let code = present(req.js_code.as_deref()).ok_or(WxError::MISSING_CODE)?;
        if req.grant_type.as_deref() != Some("authorization_code") {
            return Err(WxError::INVALID_GRANT_TYPE);
        }
        self.check_secret(appid, secret)?;

        if let Some(entry) = self.logins.fixtures.get_mut(code) {
            let session = match &entry.code {
                FixtureCode::Error(errcode) => return Err(WxError(*errcode)),
                FixtureCode::Session { appid: owner, .. } if owner != appid => {
                    return Err(WxError::INVALID_CODE);
                }
                FixtureCode::Session { session, .. } => session.clone(),
            };
            entry.usage.check(now_ms)?;
            entry.usage.used = true;
            self.remember(appid, &session);
            return Ok(session);
        }

        let (name, base, unionid, busy) = match parse_login_code(code) {
            None => return Err(WxError::INVALID_CODE),
            Some(LoginConvention::Error(err)) => return Err(err),
            Some(LoginConvention::Login { name, base, unionid, busy }) => (name, base, unionid, busy),
        };
        let usage =
            self.logins.codes.entry((appid.to_owned(), code.to_owned())).or_insert_with(|| CodeUse::new(now_ms));
        usage.check(now_ms)?;
        if busy && !usage.busy_answered {
            usage.busy_answered = true;
            return Err(WxError::SYSTEM_ERROR);
        }
        usage.used = true;
        let session = Session {
            openid: format!("openid-{base}"),
            session_key: session_key_for(name),
            unionid: unionid.then(|| format!("unionid-{base}")),
        };
        self.remember(appid, &session);
        Ok(session)
    }
}

pub(crate) async fn handle(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let mut params = query_params(query);
    let req = Jscode2SessionRequest {
        appid: params.remove("appid"),
        secret: params.remove("secret"),
        js_code: params.remove("js_code"),
        grant_type: params.remove("grant_type"),
    };
    answer(&state, |mock, now| mock.jscode2session(&req, now))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::state::CODE_TTL_MS;
    use crate::testing::{T0, app, assert_error, fixture_session, login, mock, wechat};

    #[test]
    fn session_key_is_documented_derivation() {
        // python3: base64.b64encode(sha256(b"mock-wechat session key:alice").digest()[:16])
        assert_eq!(session_key_for("alice"), "lZkgn5mSWbRrTaDccau6Mw==");
        assert_eq!(session_key_for("alice~2"), "PijbO+afwXMz5uvw7jsOng==");
        assert_eq!(session_key_for("x").len(), 24);
    }

    #[test]
    fn ok_code_is_valid_once() {
        let mut m = mock();
        let s = m.jscode2session(&login("wxa", "ok-alice"), T0);
        assert_eq!(
            s,
            Ok(Session { openid: "openid-alice".into(), session_key: session_key_for("alice"), unionid: None })
        );
        assert_eq!(m.jscode2session(&login("wxa", "ok-alice"), T0 + 1), Err(WxError::CODE_BEEN_USED));
        assert_eq!(WxError::CODE_BEEN_USED.errmsg(), "code been used");
    }

    #[test]
    fn codes_are_scoped_per_appid() {
        let mut m = mock();
        assert!(m.jscode2session(&login("wxa", "ok-alice"), T0).is_ok());
        assert!(m.jscode2session(&login("wxb", "ok-alice"), T0).is_ok());
    }

    #[test]
    fn dot_u_adds_unionid() {
        let mut m = mock();
        let s = m.jscode2session(&login("wxa", "ok-bob.u"), T0);
        assert_eq!(
            s,
            Ok(Session {
                openid: "openid-bob".into(),
                session_key: session_key_for("bob"),
                unionid: Some("unionid-bob".into())
            })
        );
    }

    #[test]
    fn nonce_keeps_openid_but_changes_session_key() {
        let mut m = mock();
        let first = m.jscode2session(&login("wxa", "ok-alice"), T0).map(|s| (s.openid, s.session_key));
        let second = m.jscode2session(&login("wxa", "ok-alice~2.u"), T0).map(|s| (s.openid, s.session_key, s.unionid));
        assert_eq!(first, Ok(("openid-alice".into(), session_key_for("alice"))));
        assert_eq!(second, Ok(("openid-alice".into(), session_key_for("alice~2"), Some("unionid-alice".into()))));
        assert_ne!(session_key_for("alice"), session_key_for("alice~2"));
        assert_eq!(m.latest_session_key("wxa", "openid-alice"), Some(session_key_for("alice~2").as_str()));
    }

    #[test]
    fn err_codes_answer_every_time() {
        let mut m = mock();
        for (code, errcode, errmsg) in [
            ("err-40029", 40029, "invalid code"),
            ("err-45011", 45011, "api minute-quota reach limit  mustslower  retry next minute"),
            ("err-40226", 40226, "high risk user"),
            ("err--1", -1, "system error"),
            ("err-12345", 12345, "mock error"),
        ] {
            for _ in 0..2 {
                let e = m.jscode2session(&login("wxa", code), T0);
                assert_eq!(e, Err(WxError(errcode)));
                assert_eq!(WxError(errcode).errmsg(), errmsg);
            }
        }
    }

    #[test]
    fn other_codes_are_invalid() {
        let mut m = mock();
        for code in ["nope", "ok-", "ok-.u", "ok-~2", "busy-", "err-", "err-0", "err-x", "OK-alice"] {
            assert_eq!(m.jscode2session(&login("wxa", code), T0), Err(WxError::INVALID_CODE), "{code}");
        }
    }

    #[test]
    fn busy_answers_system_error_once_then_ok_once() {
        let mut m = mock();
        assert_eq!(m.jscode2session(&login("wxa", "busy-carol"), T0), Err(WxError::SYSTEM_ERROR));
        let s = m.jscode2session(&login("wxa", "busy-carol"), T0 + 1);
        assert_eq!(s.map(|s| (s.openid, s.session_key)), Ok(("openid-carol".into(), session_key_for("carol"))));
        assert_eq!(m.jscode2session(&login("wxa", "busy-carol"), T0 + 2), Err(WxError::CODE_BEEN_USED));
    }

    #[test]
    fn codes_expire_five_minutes_after_first_seen() {
        let mut m = mock();
        assert_eq!(m.jscode2session(&login("wxa", "busy-dan"), T0), Err(WxError::SYSTEM_ERROR));
        assert_eq!(m.jscode2session(&login("wxa", "busy-dan"), T0 + CODE_TTL_MS), Err(WxError::INVALID_CODE));
        assert_eq!(m.jscode2session(&login("wxa", "busy-erin"), T0), Err(WxError::SYSTEM_ERROR));
        assert!(m.jscode2session(&login("wxa", "busy-erin"), T0 + CODE_TTL_MS - 1).is_ok());
    }

    #[test]
    fn missing_parameters_and_grant_type() {
        let mut m = mock();
        let full = login("wxa", "ok-x");
        let cases = [
            (Jscode2SessionRequest { appid: None, ..full.clone() }, 41002, "appid missing"),
            (Jscode2SessionRequest { appid: Some(String::new()), ..full.clone() }, 41002, "appid missing"),
            (Jscode2SessionRequest { secret: None, ..full.clone() }, 41004, "appsecret missing"),
            (Jscode2SessionRequest { js_code: None, ..full.clone() }, 41008, "missing code"),
            (Jscode2SessionRequest { grant_type: None, ..full.clone() }, 40002, "invalid grant_type"),
            (
                Jscode2SessionRequest { grant_type: Some("client_credential".into()), ..full.clone() },
                40002,
                "invalid grant_type",
            ),
        ];
        for (req, errcode, errmsg) in cases {
            assert_eq!(m.jscode2session(&req, T0), Err(WxError(errcode)));
            assert_eq!(WxError(errcode).errmsg(), errmsg);
        }
        // None of these consumed the code.
        assert!(m.jscode2session(&full, T0).is_ok());
    }

    #[test]
    fn registered_secret_is_enforced() {
        let mut m = mock();
        m.register_app("wxreg", "right");
        let mut req = login("wxreg", "ok-frank");
        assert_eq!(m.jscode2session(&req, T0), Err(WxError::INVALID_APPSECRET));
        assert_eq!(WxError::INVALID_APPSECRET.errmsg(), "invalid appsecret");
        req.secret = Some("right".into());
        assert!(m.jscode2session(&req, T0).is_ok());
        // Unregistered apps take any secret.
        assert!(m.jscode2session(&login("wxother", "ok-frank"), T0).is_ok());
    }

    #[test]
    fn fixture_codes() {
        let mut m = mock();
        m.add_code("fx-1", fixture_session("wxa", "o-fixed", "k==", Some("u-fixed")), T0);
        m.add_code("fx-err", FixtureCode::Error(40226), T0);
        m.add_code("ok-zed", fixture_session("wxa", "o-zed", "kz==", None), T0);

        // Wrong appid: invalid, and not consumed.
        assert_eq!(m.jscode2session(&login("wxb", "fx-1"), T0), Err(WxError::INVALID_CODE));
        let s = m.jscode2session(&login("wxa", "fx-1"), T0);
        assert_eq!(
            s,
            Ok(Session { openid: "o-fixed".into(), session_key: "k==".into(), unionid: Some("u-fixed".into()) })
        );
        assert_eq!(m.jscode2session(&login("wxa", "fx-1"), T0), Err(WxError::CODE_BEEN_USED));
        assert_eq!(m.latest_session_key("wxa", "o-fixed"), Some("k=="));

        // Error fixtures answer every time, for any appid.
        assert_eq!(m.jscode2session(&login("wxa", "fx-err"), T0), Err(WxError(40226)));
        assert_eq!(m.jscode2session(&login("wxb", "fx-err"), T0), Err(WxError(40226)));

        // Fixtures take precedence over the naming conventions.
        assert_eq!(m.jscode2session(&login("wxa", "ok-zed"), T0).map(|s| s.openid), Ok("o-zed".into()));
    }

    #[test]
    fn fixture_codes_expire_five_minutes_after_registration() {
        let mut m = mock();
        m.add_code("fx-a", fixture_session("wxa", "o", "k", None), T0);
        m.add_code("fx-b", fixture_session("wxa", "o", "k", None), T0);
        assert!(m.jscode2session(&login("wxa", "fx-a"), T0 + CODE_TTL_MS - 1).is_ok());
        assert_eq!(m.jscode2session(&login("wxa", "fx-b"), T0 + CODE_TTL_MS), Err(WxError::INVALID_CODE));
        // Re-registering makes a fresh code.
        m.add_code("fx-b", fixture_session("wxa", "o", "k", None), T0 + CODE_TTL_MS);
        assert!(m.jscode2session(&login("wxa", "fx-b"), T0 + CODE_TTL_MS).is_ok());
    }

    #[tokio::test]
    async fn jscode2session_speaks_wechat() {
        let (app, _) = app();
        let uri = "/sns/jscode2session?appid=wxr&secret=s&js_code=ok-alice.u&grant_type=authorization_code";
        let body = wechat(&app, "GET", uri, "").await;
        assert_eq!(
            body,
            json!({"openid": "openid-alice", "session_key": session_key_for("alice"), "unionid": "unionid-alice"})
        );
        assert_error(&wechat(&app, "GET", uri, "").await, 40163, "code been used");

        let uri = "/sns/jscode2session?appid=wxr&secret=s&js_code=ok-bob&grant_type=authorization_code";
        let body = wechat(&app, "GET", uri, "").await;
        assert_eq!(body, json!({"openid": "openid-bob", "session_key": session_key_for("bob")}));

        assert_error(&wechat(&app, "GET", "/sns/jscode2session", "").await, 41002, "appid missing");
        assert_error(
            &wechat(&app, "GET", "/sns/jscode2session?appid=wxr&secret=s&js_code=x&grant_type=authorization_code", "")
                .await,
            40029,
            "invalid code",
        );
        assert_error(
            &wechat(&app, "GET", "/sns/jscode2session?appid=wxr&secret=s&js_code=ok-c&grant_type=x", "").await,
            40002,
            "invalid grant_type",
        );
    }
}

//! Web sign-in's user tokens:
//! `GET /sns/oauth2/access_token?appid=&secret=&code=&grant_type=authorization_code`
//! and `GET /sns/oauth2/refresh_token?appid=&grant_type=refresh_token&refresh_token=`.
//!
//! The exchange turns a code from a sign-in page ([`crate::web_authorize`])
//! into the user's tokens:
//!
//! ```text
//! {"access_token": "<random>", "expires_in": 7200, "refresh_token": "<random>",
//!  "openid": "<openid>", "scope": "<the page's scope>", "is_snapshotuser": 1?, "unionid": "<unionid>"?}
//! ```
//!
//! `is_snapshotuser` only for a snapshot user (`<name>.snap`); `unionid`
//! only for a `.u` user under `snsapi_userinfo` or `snsapi_login`, never
//! under `snsapi_base` (as WeChat since 2017). It checks, in order: missing
//! `appid` → 41002 `appid missing`; missing `secret` → 41004 `appsecret
//! missing`; missing `code` → 41008 `missing code`; `grant_type` other than
//! `authorization_code` → 40002 `invalid grant_type`; an appid that is not a
//! registered web app (`kind` given) → 40013 `invalid appid`; another secret
//! → 40125 `invalid appsecret`. Then the code: unknown, or issued for another
//! appid → 40029 `invalid code` (not consumed); an `err-<errcode>` user's
//! code → that error, every time; used → 40163 `code been used`; 5 minutes
//! after it was issued → 42003 `code expired` (WeChat's code here, not
//! `jscode2session`'s 40029); a `busy-` user's code → -1 `system error`
//! once, then as its user. A code works once.
//!
//! The refresh renews the access token (another 7200 s, same fields, the
//! same `refresh_token`, no `unionid`): missing `appid` → 41002;
//! `grant_type` other than `refresh_token` → 40002; missing `refresh_token`
//! → 41003 `refresh_token missing`; not a web app → 40013; a refresh token
//! unknown or of another appid → 40030 `invalid refresh_token`; 30 days
//! after the exchange → 42002 `refresh_token expired`. Older access tokens
//! stay valid until they expire.
//!
//! The user access tokens are the mock's own (not [`crate::tokens`]'):
//! [`Mock::resolve_user_token`] resolves them for [`crate::sns_userinfo`].

use std::collections::HashMap;

use axum::extract::{RawQuery, State};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;

use crate::errors::WxError;
use crate::routes::{AppState, answer, query_params};
use crate::state::{Api, CodeUse, Mock, present};
use crate::web_authorize::{Scope, WebIdentity, WebUser};

pub const PATH: &str = "/sns/oauth2/access_token";
pub const REFRESH_PATH: &str = "/sns/oauth2/refresh_token";

/// Lifetime of a user access token, in seconds (`expires_in`).
pub const USER_TOKEN_TTL_S: u64 = 7200;
pub(crate) const USER_TOKEN_TTL_MS: u64 = USER_TOKEN_TTL_S * 1000;
/// Lifetime of a refresh token: 30 days from the exchange.
pub const REFRESH_TOKEN_TTL_MS: u64 = 30 * 24 * 3600 * 1000;

/// Query parameters of `GET /sns/oauth2/access_token`.
#[derive(Debug, Default, Clone)]
pub struct Oauth2AccessTokenRequest {
    pub appid: Option<String>,
    pub secret: Option<String>,
    pub code: Option<String>,
    pub grant_type: Option<String>,
}

/// Query parameters of `GET /sns/oauth2/refresh_token`.
#[derive(Debug, Default, Clone)]
pub struct Oauth2RefreshRequest {
    pub appid: Option<String>,
    pub grant_type: Option<String>,
    pub refresh_token: Option<String>,
}

/// A successful exchange or refresh (serializes to WeChat's body).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserAccessToken {
    pub access_token: String,
    pub expires_in: u64,
    pub refresh_token: String,
    pub openid: String,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_snapshotuser: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unionid: Option<String>,
}

/// What a user granted an app, held by its access and refresh tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub appid: String,
    pub scope: Scope,
    pub identity: WebIdentity,
}

impl Grant {
    pub fn openid(&self) -> String {
        self.identity.openid(&self.appid)
    }
}

/// Web sign-in's part of [`Mock`]: the pages' codes, and the tokens issued for them.
#[derive(Debug, Default)]
pub(crate) struct WebLogins {
    /// By code (random, so unique across appids).
    codes: HashMap<String, WebCode>,
    access_tokens: HashMap<String, Held>,
    refresh_tokens: HashMap<String, Held>,
}

#[derive(Debug)]
struct WebCode {
    appid: String,
    scope: Scope,
    user: WebUser,
    usage: CodeUse,
}

/// A token's grant and expiry (Unix ms).
#[derive(Debug)]
struct Held {
    grant: Grant,
    expires_ms: u64,
}

impl Mock {
    /// Issues a one-time code for `user`'s approval of `appid` with `scope`
    /// (called by the sign-in pages).
    pub(crate) fn issue_web_code(&mut self, appid: &str, scope: Scope, user: WebUser, now_ms: u64) -> String {
        let code: String = self.random_block()[..16].iter().map(|b| format!("{b:02x}")).collect();
        let entry = WebCode { appid: appid.to_owned(), scope, user, usage: CodeUse::new(now_ms) };
        self.web.codes.insert(code.clone(), entry);
        code
    }

    /// 40013 unless `appid` is a registered web app.
    fn check_web_app(&self, appid: &str) -> Result<(), WxError> {
        match self.app(appid) {
            Some(app) if app.kind.is_some() => Ok(()),
            _ => Err(WxError::INVALID_APPID),
        }
    }

    fn random_token(&mut self, prefix: &str) -> String {
        format!("{prefix}{}", URL_SAFE_NO_PAD.encode(self.random_block()))
    }

    /// A new access token for `grant`, and the answer carrying it.
    fn user_access_token(
        &mut self,
        grant: &Grant,
        refresh_token: String,
        with_unionid: bool,
        now_ms: u64,
    ) -> UserAccessToken {
        let access_token = self.random_token("mock_sns_");
        let held = Held { grant: grant.clone(), expires_ms: now_ms.saturating_add(USER_TOKEN_TTL_MS) };
        self.web.access_tokens.insert(access_token.clone(), held);
        let unionid = if with_unionid && grant.scope.reveals_profile() { grant.identity.unionid() } else { None };
        UserAccessToken {
            access_token,
            expires_in: USER_TOKEN_TTL_S,
            refresh_token,
            openid: grant.openid(),
            scope: grant.scope.as_str().to_owned(),
            is_snapshotuser: grant.identity.snapshot.then_some(1),
            unionid,
        }
    }

    /// `GET /sns/oauth2/access_token`. Counts the call when an appid is given.
    pub fn sns_oauth2_access_token(
        &mut self,
        req: &Oauth2AccessTokenRequest,
        now_ms: u64,
    ) -> Result<UserAccessToken, WxError> {
        let appid = present(req.appid.as_deref()).ok_or(WxError::APPID_MISSING)?;
        self.count(appid, Api::SnsOauth2AccessToken);
        let secret = present(req.secret.as_deref()).ok_or(WxError::APPSECRET_MISSING)?;
        let code = present(req.code.as_deref()).ok_or(WxError::MISSING_CODE)?;
        if req.grant_type.as_deref() != Some("authorization_code") {
            return Err(WxError::INVALID_GRANT_TYPE);
        }
        self.check_web_app(appid)?;
        self.check_secret(appid, secret)?;

        let entry = self.web.codes.get_mut(code).filter(|entry| entry.appid == appid).ok_or(WxError::INVALID_CODE)?;
        let (identity, busy) = match &entry.user {
            WebUser::Error(err) => return Err(*err),
            WebUser::Person { identity, busy } => (identity.clone(), *busy),
        };
        if entry.usage.used {
            return Err(WxError::CODE_BEEN_USED);
        }
        if entry.usage.expired(now_ms) {
            return Err(WxError::CODE_EXPIRED);
        }
        if busy && !entry.usage.busy_answered {
            entry.usage.busy_answered = true;
            return Err(WxError::SYSTEM_ERROR);
        }
        entry.usage.used = true;
        let grant = Grant { appid: appid.to_owned(), scope: entry.scope, identity };

        let refresh_token = self.random_token("mock_snsr_");
        let held = Held { grant: grant.clone(), expires_ms: now_ms.saturating_add(REFRESH_TOKEN_TTL_MS) };
        self.web.refresh_tokens.insert(refresh_token.clone(), held);
        Ok(self.user_access_token(&grant, refresh_token, true, now_ms))
    }

    /// `GET /sns/oauth2/refresh_token`. Counts the call when an appid is given.
    pub fn sns_oauth2_refresh_token(
        &mut self,
        req: &Oauth2RefreshRequest,
        now_ms: u64,
    ) -> Result<UserAccessToken, WxError> {
        let appid = present(req.appid.as_deref()).ok_or(WxError::APPID_MISSING)?;
        self.count(appid, Api::SnsOauth2RefreshToken);
        if req.grant_type.as_deref() != Some("refresh_token") {
            return Err(WxError::INVALID_GRANT_TYPE);
        }
        let refresh_token = present(req.refresh_token.as_deref()).ok_or(WxError::REFRESH_TOKEN_MISSING)?;
        self.check_web_app(appid)?;
        let held = self
            .web
            .refresh_tokens
            .get(refresh_token)
            .filter(|held| held.grant.appid == appid)
            .ok_or(WxError::INVALID_REFRESH_TOKEN)?;
        if now_ms >= held.expires_ms {
            return Err(WxError::REFRESH_TOKEN_EXPIRED);
        }
        let grant = held.grant.clone();
        Ok(self.user_access_token(&grant, refresh_token.to_owned(), false, now_ms))
    }

    /// Resolves a user `access_token` (from the exchange or a refresh) to its
    /// grant, counting the call for its appid whenever the token is known:
    /// missing → 41001, unknown → 40001, expired → 42001.
    pub fn resolve_user_token(&mut self, token: Option<&str>, api: Api, now_ms: u64) -> Result<Grant, WxError> {
        let token = present(token).ok_or(WxError::ACCESS_TOKEN_MISSING)?;
        let held = self.web.access_tokens.get(token).ok_or(WxError::INVALID_CREDENTIAL)?;
        let (grant, expired) = (held.grant.clone(), now_ms >= held.expires_ms);
        self.count(&grant.appid, api);
        if expired { Err(WxError::ACCESS_TOKEN_EXPIRED) } else { Ok(grant) }
    }
}

pub(crate) async fn handle(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let mut params = query_params(query);
    let req = Oauth2AccessTokenRequest {
        appid: params.remove("appid"),
        secret: params.remove("secret"),
        code: params.remove("code"),
        grant_type: params.remove("grant_type"),
    };
    answer(&state, |mock, now| mock.sns_oauth2_access_token(&req, now))
}

pub(crate) async fn handle_refresh(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let mut params = query_params(query);
    let req = Oauth2RefreshRequest {
        appid: params.remove("appid"),
        grant_type: params.remove("grant_type"),
        refresh_token: params.remove("refresh_token"),
    };
    answer(&state, |mock, now| mock.sns_oauth2_refresh_token(&req, now))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use serde_json::json;

    use super::*;
    use crate::state::{App, AppKind, CODE_TTL_MS};
    use crate::testing::{
        OA, OA_SECRET, T0, WEB, app, approve, assert_error, code_in, exchange_req, send, send_with, sign_in, web_mock,
        wechat,
    };

    fn refresh_req(appid: &str, refresh_token: &str) -> Oauth2RefreshRequest {
        Oauth2RefreshRequest {
            appid: Some(appid.into()),
            grant_type: Some("refresh_token".into()),
            refresh_token: Some(refresh_token.into()),
        }
    }

    #[test]
    fn exchange_answers_the_users_tokens() {
        let mut m = web_mock();
        let code = approve(&mut m, OA, "snsapi_userinfo", "alice", T0);
        let token = m.sns_oauth2_access_token(&exchange_req(OA, &code), T0 + 1);
        let Ok(token) = token else { panic!("{token:?}") };
        assert_eq!(
            token,
            UserAccessToken {
                access_token: token.access_token.clone(),
                expires_in: 7200,
                refresh_token: token.refresh_token.clone(),
                openid: "openid-alice-wxoa".into(),
                scope: "snsapi_userinfo".into(),
                is_snapshotuser: None,
                unionid: None,
            }
        );
        assert!(token.access_token.starts_with("mock_sns_") && token.refresh_token.starts_with("mock_snsr_"));
        assert_ne!(token.access_token, token.refresh_token);
        // The same user, another app: another openid.
        assert_eq!(sign_in(&mut m, WEB, "snsapi_login", "alice", T0).openid, "openid-alice-wxweb");
    }

    #[test]
    fn unionid_only_under_userinfo_and_login_scopes() {
        let mut m = web_mock();
        for (appid, scope, user, unionid) in [
            (OA, "snsapi_base", "bob.u", None),
            (OA, "snsapi_userinfo", "bob.u", Some("unionid-bob")),
            (WEB, "snsapi_login", "bob.u", Some("unionid-bob")),
            (WEB, "snsapi_login", "bob~2.u", Some("unionid-bob")),
            (OA, "snsapi_userinfo", "bob", None),
            (WEB, "snsapi_login", "bob", None),
        ] {
            let token = sign_in(&mut m, appid, scope, user, T0);
            assert_eq!(token.unionid.as_deref(), unionid, "{appid} {scope} {user}");
            assert_eq!(token.openid, format!("openid-bob-{appid}"));
            assert_eq!(token.scope, scope);
        }
    }

    #[test]
    fn snapshot_users() {
        let mut m = web_mock();
        let token = sign_in(&mut m, OA, "snsapi_userinfo", "carl.snap", T0);
        let body = serde_json::to_value(&token).unwrap_or_default();
        assert_eq!(
            (token.openid.as_str(), token.is_snapshotuser, token.unionid),
            ("openid-snap-carl-wxoa", Some(1), None)
        );
        assert_eq!(body["is_snapshotuser"], 1);
        let plain = serde_json::to_value(sign_in(&mut m, OA, "snsapi_userinfo", "carl", T0)).unwrap_or_default();
        assert!(plain.get("is_snapshotuser").is_none() && plain.get("unionid").is_none(), "{plain}");
    }

    #[test]
    fn codes_are_single_use_per_app_and_expire() {
        let mut m = web_mock();
        let code = approve(&mut m, OA, "snsapi_base", "dave", T0);
        // Another app's code: invalid, and not consumed.
        // wxoa2: an Official Account with the same secret.
        let oa = App { secret: OA_SECRET.into(), kind: Some(AppKind::OfficialAccount), domain: None, pages: None };
        m.add_app("wxoa2", oa);
        let other = Oauth2AccessTokenRequest { appid: Some("wxoa2".into()), ..exchange_req(OA, &code) };
        assert_eq!(m.sns_oauth2_access_token(&other, T0), Err(WxError::INVALID_CODE));
        assert!(m.sns_oauth2_access_token(&exchange_req(OA, &code), T0).is_ok());
        assert_eq!(m.sns_oauth2_access_token(&exchange_req(OA, &code), T0), Err(WxError::CODE_BEEN_USED));
        assert_eq!(m.sns_oauth2_access_token(&exchange_req(OA, "nope"), T0), Err(WxError::INVALID_CODE));

        let late = approve(&mut m, OA, "snsapi_base", "dave", T0);
        assert_eq!(m.sns_oauth2_access_token(&exchange_req(OA, &late), T0 + CODE_TTL_MS), Err(WxError::CODE_EXPIRED));
        assert_eq!(WxError::CODE_EXPIRED.errmsg(), "code expired");
        let in_time = approve(&mut m, OA, "snsapi_base", "dave", T0);
        assert!(m.sns_oauth2_access_token(&exchange_req(OA, &in_time), T0 + CODE_TTL_MS - 1).is_ok());
        // Used wins over expired.
        assert_eq!(
            m.sns_oauth2_access_token(&exchange_req(OA, &in_time), T0 + CODE_TTL_MS),
            Err(WxError::CODE_BEEN_USED)
        );
    }

    #[test]
    fn err_and_busy_users() {
        let mut m = web_mock();
        for (user, errcode) in [("err-40029", 40029), ("err--1", -1), ("err-40226", 40226), ("err-45011", 45011)] {
            let code = approve(&mut m, OA, "snsapi_userinfo", user, T0);
            for _ in 0..3 {
                assert_eq!(m.sns_oauth2_access_token(&exchange_req(OA, &code), T0), Err(WxError(errcode)), "{user}");
            }
        }
        let code = approve(&mut m, WEB, "snsapi_login", "busy-erin.u", T0);
        assert_eq!(m.sns_oauth2_access_token(&exchange_req(WEB, &code), T0), Err(WxError::SYSTEM_ERROR));
        let token = m.sns_oauth2_access_token(&exchange_req(WEB, &code), T0 + 1);
        assert_eq!(token.map(|t| (t.openid, t.unionid)), Ok(("openid-erin-wxweb".into(), Some("unionid-erin".into()))));
        assert_eq!(m.sns_oauth2_access_token(&exchange_req(WEB, &code), T0 + 2), Err(WxError::CODE_BEEN_USED));
    }

    #[test]
    fn exchange_errors() {
        let mut m = web_mock();
        m.register_app("wxmini", "s");
        let code = approve(&mut m, OA, "snsapi_base", "finn", T0);
        let full = exchange_req(OA, &code);
        let cases = [
            (Oauth2AccessTokenRequest { appid: None, ..full.clone() }, WxError::APPID_MISSING, "appid missing"),
            (
                Oauth2AccessTokenRequest { secret: None, ..full.clone() },
                WxError::APPSECRET_MISSING,
                "appsecret missing",
            ),
            (Oauth2AccessTokenRequest { code: None, ..full.clone() }, WxError::MISSING_CODE, "missing code"),
            (
                Oauth2AccessTokenRequest { code: Some(String::new()), ..full.clone() },
                WxError::MISSING_CODE,
                "missing code",
            ),
            (
                Oauth2AccessTokenRequest { grant_type: None, ..full.clone() },
                WxError::INVALID_GRANT_TYPE,
                "invalid grant_type",
            ),
            (
                Oauth2AccessTokenRequest { grant_type: Some("refresh_token".into()), ..full.clone() },
                WxError::INVALID_GRANT_TYPE,
                "invalid grant_type",
            ),
            (
                Oauth2AccessTokenRequest { appid: Some("wxnone".into()), ..full.clone() },
                WxError::INVALID_APPID,
                "invalid appid",
            ),
            (
                Oauth2AccessTokenRequest { appid: Some("wxmini".into()), ..full.clone() },
                WxError::INVALID_APPID,
                "invalid appid",
            ),
            (
                Oauth2AccessTokenRequest { secret: Some("wrong".into()), ..full.clone() },
                WxError::INVALID_APPSECRET,
                "invalid appsecret",
            ),
        ];
        for (req, err, errmsg) in cases {
            assert_eq!(m.sns_oauth2_access_token(&req, T0), Err(err), "{req:?}");
            assert_eq!(err.errmsg(), errmsg);
        }
        // None of these consumed the code.
        assert!(m.sns_oauth2_access_token(&full, T0).is_ok());
        assert_eq!(m.calls(OA).sns_oauth2_access_token, 7);
    }

    #[test]
    fn refresh_renews_the_access_token() {
        let mut m = web_mock();
        let first = sign_in(&mut m, OA, "snsapi_userinfo", "gail.u", T0);
        assert_eq!(first.unionid.as_deref(), Some("unionid-gail"));
        let renewed = m.sns_oauth2_refresh_token(&refresh_req(OA, &first.refresh_token), T0 + 7_200_000);
        let Ok(renewed) = renewed else { panic!("{renewed:?}") };
        assert_eq!(
            renewed,
            UserAccessToken { access_token: renewed.access_token.clone(), unionid: None, ..first.clone() }
        );
        assert_ne!(renewed.access_token, first.access_token);
        // The new token lives 7200 s from the refresh; the old one has expired.
        assert!(m.resolve_user_token(Some(&renewed.access_token), Api::SnsAuth, T0 + 14_399_999).is_ok());
        assert_eq!(
            m.resolve_user_token(Some(&first.access_token), Api::SnsAuth, T0 + 7_200_000),
            Err(WxError::ACCESS_TOKEN_EXPIRED)
        );
        // A snapshot user keeps the flag.
        let snap = sign_in(&mut m, OA, "snsapi_userinfo", "gail.snap", T0);
        let again = m.sns_oauth2_refresh_token(&refresh_req(OA, &snap.refresh_token), T0).map(|t| t.is_snapshotuser);
        assert_eq!(again, Ok(Some(1)));
        // 30 days later the refresh token is gone.
        assert_eq!(
            m.sns_oauth2_refresh_token(&refresh_req(OA, &first.refresh_token), T0 + REFRESH_TOKEN_TTL_MS),
            Err(WxError::REFRESH_TOKEN_EXPIRED)
        );
    }

    #[test]
    fn refresh_errors() {
        let mut m = web_mock();
        m.register_app("wxmini", "s");
        let token = sign_in(&mut m, OA, "snsapi_base", "hal", T0);
        let full = refresh_req(OA, &token.refresh_token);
        let cases = [
            (Oauth2RefreshRequest { appid: None, ..full.clone() }, WxError::APPID_MISSING, "appid missing"),
            (
                Oauth2RefreshRequest { grant_type: None, ..full.clone() },
                WxError::INVALID_GRANT_TYPE,
                "invalid grant_type",
            ),
            (
                Oauth2RefreshRequest { grant_type: Some("authorization_code".into()), ..full.clone() },
                WxError::INVALID_GRANT_TYPE,
                "invalid grant_type",
            ),
            (
                Oauth2RefreshRequest { refresh_token: None, ..full.clone() },
                WxError::REFRESH_TOKEN_MISSING,
                "refresh_token missing",
            ),
            (
                Oauth2RefreshRequest { appid: Some("wxmini".into()), ..full.clone() },
                WxError::INVALID_APPID,
                "invalid appid",
            ),
            (
                Oauth2RefreshRequest { appid: Some(WEB.into()), ..full.clone() },
                WxError::INVALID_REFRESH_TOKEN,
                "invalid refresh_token",
            ),
            (
                Oauth2RefreshRequest { refresh_token: Some(token.access_token.clone()), ..full.clone() },
                WxError::INVALID_REFRESH_TOKEN,
                "invalid refresh_token",
            ),
        ];
        for (req, err, errmsg) in cases {
            assert_eq!(m.sns_oauth2_refresh_token(&req, T0), Err(err), "{req:?}");
            assert_eq!(err.errmsg(), errmsg);
        }
        assert_eq!(WxError::REFRESH_TOKEN_EXPIRED.errmsg(), "refresh_token expired");
        assert!(m.sns_oauth2_refresh_token(&full, T0).is_ok());
        assert_eq!(m.calls(OA).sns_oauth2_refresh_token, 5);
    }

    /// Over HTTP, with the test clock: WeChat's shapes and errors.
    #[tokio::test]
    async fn sns_oauth2_speaks_wechat() {
        let (app, time) = app();
        let (status, ..) = send(
            &app,
            "POST",
            "/mock/apps",
            r#"{"appid": "wxh", "secret": "sec", "kind": "website", "domain": "127.0.0.1"}"#,
        )
        .await;
        assert_eq!(status, axum::http::StatusCode::OK);
        let page = "/connect/qrconnect?appid=wxh&redirect_uri=http%3A%2F%2F127.0.0.1%2Fcb&response_type=code&scope=snsapi_login&state=s";
        let code = |user: &'static str| {
            let app = app.clone();
            async move {
                let (_, headers, _) = send_with(&app, "POST", page, &[], &format!("user={user}")).await;
                code_in(&crate::testing::header_of(&headers, axum::http::header::LOCATION)).unwrap_or_default()
            }
        };
        let exchange = |code: &str| format!("{PATH}?appid=wxh&secret=sec&code={code}&grant_type=authorization_code");

        let ivy = code("ivy.u").await;
        let token = wechat(&app, "GET", &exchange(&ivy), "").await;
        assert_eq!(token["unionid"], "unionid-ivy");
        assert_error(&wechat(&app, "GET", &exchange(&ivy), "").await, 40163, "code been used");

        let late = code("ivy").await;
        time.fetch_add(CODE_TTL_MS, Ordering::SeqCst);
        assert_error(&wechat(&app, "GET", &exchange(&late), "").await, 42003, "code expired");
        assert_error(&wechat(&app, "GET", &exchange("nope"), "").await, 40029, "invalid code");
        assert_error(&wechat(&app, "GET", PATH, "").await, 41002, "appid missing");
        assert_error(
            &wechat(&app, "GET", &exchange(&ivy).replace("secret=sec", "secret=bad"), "").await,
            40125,
            "invalid appsecret",
        );
        assert_error(
            &wechat(&app, "GET", &exchange(&ivy).replace("appid=wxh", "appid=wxq"), "").await,
            40013,
            "invalid appid",
        );
        let busy = code("busy-jo").await;
        assert_error(&wechat(&app, "GET", &exchange(&busy), "").await, -1, "system error");
        assert_eq!(wechat(&app, "GET", &exchange(&busy), "").await["openid"], "openid-jo-wxh");
        let failing = code("err-40226").await;
        assert_error(&wechat(&app, "GET", &exchange(&failing), "").await, 40226, "high risk user");

        let refresh = format!(
            "{REFRESH_PATH}?appid=wxh&grant_type=refresh_token&refresh_token={}",
            token["refresh_token"].as_str().unwrap_or_default()
        );
        let renewed = wechat(&app, "GET", &refresh, "").await;
        assert_eq!(
            renewed,
            json!({
                "access_token": renewed["access_token"], "expires_in": 7200, "refresh_token": token["refresh_token"],
                "openid": "openid-ivy-wxh", "scope": "snsapi_login"
            })
        );
        assert_error(
            &wechat(&app, "GET", &format!("{REFRESH_PATH}?appid=wxh&grant_type=refresh_token&refresh_token=x"), "")
                .await,
            40030,
            "invalid refresh_token",
        );
    }
}

//! Helpers for the unit tests of every API file: a seeded [`Mock`] and
//! requests to drive it directly, and an in-process router with a settable
//! clock to drive it over HTTP.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use serde_json::Value;
use tower::ServiceExt as _;

use crate::jscode2session::{FixtureCode, Jscode2SessionRequest, Session};
use crate::routes::{AppState, router};
use crate::sns_oauth2::{Oauth2AccessTokenRequest, UserAccessToken};
use crate::stable_token::StableTokenRequest;
use crate::state::{App, AppKind, Mock};
use crate::web_authorize::{AuthorizeRequest, Decision, Outcome, Page};

/// The tests' "now" (Unix ms).
pub const T0: u64 = 1_700_000_000_000;

pub fn mock() -> Mock {
    Mock::new([7; 32])
}

/// A well-formed `jscode2session` request with any secret.
pub fn login(appid: &str, code: &str) -> Jscode2SessionRequest {
    Jscode2SessionRequest {
        appid: Some(appid.into()),
        secret: Some("any-secret".into()),
        js_code: Some(code.into()),
        grant_type: Some("authorization_code".into()),
    }
}

pub fn token_req(appid: &str, secret: &str, force_refresh: bool) -> StableTokenRequest {
    StableTokenRequest {
        grant_type: Some("client_credential".into()),
        appid: Some(appid.into()),
        secret: Some(secret.into()),
        force_refresh,
    }
}

/// `appid`'s current access token (a new one if it has none).
pub fn token(m: &mut Mock, appid: &str, now: u64) -> String {
    m.stable_token(&token_req(appid, "s", false), now).map(|t| t.access_token).unwrap_or_default()
}

pub fn fixture_session(appid: &str, openid: &str, key: &str, unionid: Option<&str>) -> FixtureCode {
    let session = Session { openid: openid.into(), session_key: key.into(), unionid: unionid.map(Into::into) };
    FixtureCode::Session { appid: appid.into(), session }
}

/// The tests' Official Account: secret [`OA_SECRET`], domain `auth.example.com`.
pub const OA: &str = "wxoa";
pub const OA_SECRET: &str = "oa-secret";
/// The tests' website app: secret [`WEB_SECRET`], domain `127.0.0.1`.
pub const WEB: &str = "wxweb";
pub const WEB_SECRET: &str = "web-secret";

/// Registers [`OA`] and [`WEB`].
pub fn add_web_apps(m: &mut Mock) {
    let app = |secret: &str, kind, domain: &str| App {
        domain: Some(domain.into()),
        kind: Some(kind),
        ..App::with_secret(secret)
    };
    m.add_app(OA, app(OA_SECRET, AppKind::OfficialAccount, "auth.example.com"));
    m.add_app(WEB, app(WEB_SECRET, AppKind::Website, "127.0.0.1"));
}

/// A mock with [`OA`] and [`WEB`] registered.
pub fn web_mock() -> Mock {
    let mut m = mock();
    add_web_apps(&mut m);
    m
}

/// A well-formed sign-in page request for `appid` (a redirect_uri on its
/// domain, state `st8`).
pub fn authorize_req(appid: &str, scope: &str) -> AuthorizeRequest {
    let redirect_uri = if appid == WEB { "http://127.0.0.1:9000/cb" } else { "https://auth.example.com/cb" };
    AuthorizeRequest {
        appid: Some(appid.into()),
        redirect_uri: Some(redirect_uri.into()),
        response_type: Some("code".into()),
        scope: Some(scope.into()),
        state: Some("st8".into()),
    }
}

/// The `code` parameter of a redirect location.
pub fn code_in(location: &str) -> Option<String> {
    location.split(['?', '&', '#']).find_map(|param| param.strip_prefix("code=")).map(Into::into)
}

/// `user` approves `appid` (the page of `scope`) at `now`: the code.
pub fn approve(m: &mut Mock, appid: &str, scope: &str, user: &str, now: u64) -> String {
    let page = if scope == "snsapi_login" { Page::Website } else { Page::OfficialAccount };
    let decision = Decision::Approve(user.into());
    match m.authorize_decision(page, &authorize_req(appid, scope), &decision, now) {
        Outcome::Redirect { location, .. } => code_in(&location).unwrap_or_default(),
        other => panic!("{user} did not approve: {other:?}"),
    }
}

/// A well-formed code exchange for [`OA`] or [`WEB`].
pub fn exchange_req(appid: &str, code: &str) -> Oauth2AccessTokenRequest {
    let secret = if appid == WEB { WEB_SECRET } else { OA_SECRET };
    Oauth2AccessTokenRequest {
        appid: Some(appid.into()),
        secret: Some(secret.into()),
        code: Some(code.into()),
        grant_type: Some("authorization_code".into()),
    }
}

/// `user` approves and the code is exchanged at `now`.
pub fn sign_in(m: &mut Mock, appid: &str, scope: &str, user: &str, now: u64) -> UserAccessToken {
    let code = approve(m, appid, scope, user, now);
    match m.sns_oauth2_access_token(&exchange_req(appid, &code), now) {
        Ok(token) => token,
        Err(err) => panic!("{user}: {err:?}"),
    }
}

/// The router at [`T0`], and the clock's time to move it.
pub fn app() -> (Router, Arc<AtomicU64>) {
    let time = Arc::new(AtomicU64::new(T0));
    let clock_time = Arc::clone(&time);
    let state = AppState::with_clock(Mock::new([1; 32]), Arc::new(move || clock_time.load(Ordering::SeqCst)));
    (router(state), time)
}

/// Sends a request; returns status, content type and body.
pub async fn send(app: &Router, method: &str, uri: &str, body: &str) -> (StatusCode, String, String) {
    let (status, headers, body) = send_with(app, method, uri, &[], body).await;
    (status, header_of(&headers, header::CONTENT_TYPE), body)
}

/// Sends a request with extra headers; returns status, headers and body.
pub async fn send_with(
    app: &Router,
    method: &str,
    uri: &str,
    headers: &[(header::HeaderName, &str)],
    body: &str,
) -> (StatusCode, HeaderMap, String) {
    let (status, headers, bytes) = send_raw(app, method, uri, headers, body).await;
    (status, headers, String::from_utf8_lossy(&bytes).into_owned())
}

/// Sends a request with extra headers; returns status, headers and the
/// body's bytes (an image, say).
pub async fn send_raw(
    app: &Router,
    method: &str,
    uri: &str,
    headers: &[(header::HeaderName, &str)],
    body: &str,
) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut request = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        request = request.header(name, *value);
    }
    let Ok(request) = request.body(Body::from(body.to_owned())) else { panic!("bad request {uri}") };
    let Ok(response) = app.clone().oneshot(request).await;
    let (status, headers) = (response.status(), response.headers().clone());
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap_or_default();
    (status, headers, bytes.to_vec())
}

/// A header's value ("" if absent).
pub fn header_of(headers: &HeaderMap, name: header::HeaderName) -> String {
    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}

pub fn parse(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or(Value::Null)
}

/// WeChat answer: 200, text/plain, JSON.
pub async fn wechat(app: &Router, method: &str, uri: &str, body: &str) -> Value {
    let (status, content_type, body) = send(app, method, uri, body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "text/plain");
    parse(&body)
}

/// A WeChat error answer: `errcode`, and `errmsg` followed by a 26-character rid.
pub fn assert_error(value: &Value, errcode: i64, errmsg: &str) {
    assert_eq!(value["errcode"], errcode, "{value}");
    let message = value["errmsg"].as_str().unwrap_or_default();
    let prefix = format!("{errmsg}, rid: ");
    assert!(message.starts_with(&prefix), "{message}");
    assert_eq!(message.len(), prefix.len() + 26, "{message}");
}

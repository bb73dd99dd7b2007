//! Helpers for the unit tests of every API file: a seeded [`Mock`] and
//! requests to drive it directly, and an in-process router with a settable
//! clock to drive it over HTTP.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::Value;
use tower::ServiceExt as _;

use crate::jscode2session::{FixtureCode, Jscode2SessionRequest, Session};
use crate::routes::{AppState, router};
use crate::stable_token::StableTokenRequest;
use crate::state::Mock;

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

/// The router at [`T0`], and the clock's time to move it.
pub fn app() -> (Router, Arc<AtomicU64>) {
    let time = Arc::new(AtomicU64::new(T0));
    let clock_time = Arc::clone(&time);
    let state = AppState::with_clock(Mock::new([1; 32]), Arc::new(move || clock_time.load(Ordering::SeqCst)));
    (router(state), time)
}

/// Sends a request; returns status, content type and body.
pub async fn send(app: &Router, method: &str, uri: &str, body: &str) -> (StatusCode, String, String) {
    let request = Request::builder().method(method).uri(uri).body(Body::from(body.to_owned()));
    let Ok(request) = request else { panic!("bad request {uri}") };
    let Ok(response) = app.clone().oneshot(request).await;
    let status = response.status();
    let content_type =
        response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap_or_default();
    (status, content_type, String::from_utf8_lossy(&bytes).into_owned())
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

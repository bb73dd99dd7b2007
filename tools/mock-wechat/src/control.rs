//! The mock's own control routes under `/mock/` (not WeChat's): JSON in and
//! out, served as `application/json`.
//!
//! - `POST /mock/apps` `{"appid", "secret", "kind"?, "domain"?, "pages"?}`
//!   registers (or replaces) an app: its secret, for a web app its `kind`
//!   (`"official-account"` or `"website"`) and `domain`, the host every
//!   `redirect_uri` of its sign-in page must have, and for a mini program
//!   its published `pages`, the first its main page (default
//!   `["pages/index/index", "pages/scan/scan"]`; see [`crate::fixtures`]).
//! - `POST /mock/codes` `{"code", "appid", "openid", "session_key", "unionid"?}`
//!   or `{"code", "errcode"}` adds (or replaces, as fresh) a fixture login
//!   code (see [`crate::jscode2session`]).
//! - `POST /mock/access-tokens/expire` `{"appid"}` makes the app's current
//!   token expired (42001); `POST /mock/access-tokens/invalidate` `{"appid"}`
//!   makes it invalid (40001), as if another party had force-refreshed it.
//!   The next `stable_token` issues a new one. 404 if the app has no token.
//! - `GET /mock/calls?appid=X` → `{"jscode2session": n, "stable_token": n,
//!   "getuserphonenumber": n, "checksession": n, "web_authorize": n,
//!   "sns_oauth2_access_token": n, "sns_oauth2_refresh_token": n,
//!   "sns_userinfo": n, "sns_auth": n, "getwxacodeunlimit": n}`
//!   (`web_authorize`: both sign-in pages, GET and POST). A call counts once
//!   its appid is known: from the `appid` parameter (or form field), or from
//!   a known (even expired or invalid) access token.
//! - `GET /mock/wxacodes?appid=X` → `[{"scene", "page", "env_version",
//!   "check_path", "width"}]`, the codes `getwxacodeunlimit` made for the
//!   app (`page`: as given, or the main page), newest first; `[]` for an app
//!   with none ([`crate::wxacode`]).
//! - `POST /mock/wxacode-errors` `{"appid", "errcode", "times"}`: the app's
//!   next `times` `getwxacodeunlimit` calls (token checked, whatever their
//!   body) answer `errcode` with WeChat's text for it (45009, 41030, 40001,
//!   -1, ...; not 0), then codes again. It replaces what was asked for
//!   before; `times` 0 clears it.
//! - `GET /mock/health` → 200 `ok` (plain text).
//!
//! These answer `{"ok": true}`, or 400/404 with `{"error": "..."}`.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::errors::WxError;
use crate::fixtures::{AppSpec, CodeSpec};
use crate::routes::{AppState, query_params};
use crate::state::{Calls, Mock};
use crate::wxacode::WxaCode;

/// The `/mock/` routes, merged into [`crate::routes::router`].
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/mock/apps", post(register_app))
        .route("/mock/codes", post(add_code))
        .route("/mock/access-tokens/expire", post(expire_token))
        .route("/mock/access-tokens/invalidate", post(invalidate_token))
        .route("/mock/calls", get(calls))
        .route("/mock/wxacodes", get(wxacodes))
        .route("/mock/wxacode-errors", post(wxacode_errors))
        .route("/mock/health", get(|| async { "ok" }))
}

/// A control-route failure: `{"error": message}` with `status`.
struct ControlError(StatusCode, String);

impl IntoResponse for ControlError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({"error": self.1}))).into_response()
    }
}

type ControlResult = Result<Json<Value>, ControlError>;

fn bad_request(message: impl Into<String>) -> ControlError {
    ControlError(StatusCode::BAD_REQUEST, message.into())
}

fn control_ok() -> ControlResult {
    Ok(Json(json!({"ok": true})))
}

fn control_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ControlError> {
    serde_json::from_slice(body).map_err(|e| bad_request(format!("bad JSON body: {e}")))
}

fn required(value: &str, name: &str) -> Result<(), ControlError> {
    if value.is_empty() { Err(bad_request(format!("{name} must not be empty"))) } else { Ok(()) }
}

#[derive(Deserialize)]
struct AppBody {
    appid: String,
    #[serde(flatten)]
    spec: AppSpec,
}

#[derive(Deserialize)]
struct CodeBody {
    code: String,
    #[serde(flatten)]
    spec: CodeSpec,
}

#[derive(Deserialize)]
struct AppidBody {
    appid: String,
}

async fn register_app(State(state): State<AppState>, body: Bytes) -> ControlResult {
    let AppBody { appid, spec } = control_body(&body)?;
    required(&appid, "appid")?;
    let app = spec.into_app().map_err(bad_request)?;
    state.lock().0.add_app(&appid, app);
    control_ok()
}

async fn add_code(State(state): State<AppState>, body: Bytes) -> ControlResult {
    let CodeBody { code, spec } = control_body(&body)?;
    required(&code, "code")?;
    let fixture = spec.into_fixture().map_err(bad_request)?;
    let (mut mock, now) = state.lock();
    mock.add_code(&code, fixture, now);
    control_ok()
}

async fn expire_token(State(state): State<AppState>, body: Bytes) -> ControlResult {
    token_control(&state, &body, |mock, appid, now| mock.expire_token(appid, now))
}

async fn invalidate_token(State(state): State<AppState>, body: Bytes) -> ControlResult {
    token_control(&state, &body, |mock, appid, _| mock.invalidate_token(appid))
}

fn token_control(state: &AppState, body: &[u8], f: impl FnOnce(&mut Mock, &str, u64) -> bool) -> ControlResult {
    let AppidBody { appid } = control_body(body)?;
    required(&appid, "appid")?;
    let (mut mock, now) = state.lock();
    if !f(&mut mock, &appid, now) {
        return Err(ControlError(StatusCode::NOT_FOUND, format!("no current access token for {appid}")));
    }
    control_ok()
}

/// The `appid` query parameter of the `GET` routes (400 without one).
fn appid_param(query: Option<String>) -> Result<String, ControlError> {
    query_params(query)
        .remove("appid")
        .filter(|a| !a.is_empty())
        .ok_or_else(|| bad_request("appid query parameter is required"))
}

async fn calls(State(state): State<AppState>, RawQuery(query): RawQuery) -> Result<Json<Calls>, ControlError> {
    let appid = appid_param(query)?;
    Ok(Json(state.lock().0.calls(&appid)))
}

async fn wxacodes(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Vec<WxaCode>>, ControlError> {
    let appid = appid_param(query)?;
    Ok(Json(state.lock().0.wxacodes_made(&appid)))
}

#[derive(Deserialize)]
struct WxacodeErrorsBody {
    appid: String,
    errcode: i64,
    times: u32,
}

async fn wxacode_errors(State(state): State<AppState>, body: Bytes) -> ControlResult {
    let WxacodeErrorsBody { appid, errcode, times } = control_body(&body)?;
    required(&appid, "appid")?;
    if errcode == 0 {
        return Err(bad_request("errcode must not be 0"));
    }
    state.lock().0.fail_wxacodes(&appid, WxError(errcode), times);
    control_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{app, assert_error, parse, send, wechat};

    #[tokio::test]
    async fn control_routes() {
        let (app, _) = app();
        let (status, _, body) = send(&app, "GET", "/mock/health", "").await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "ok"));

        let (status, ..) = send(&app, "POST", "/mock/apps", r#"{"appid": "wxc", "secret": "right"}"#).await;
        assert_eq!(status, StatusCode::OK);
        let wrong = "/sns/jscode2session?appid=wxc&secret=wrong&js_code=ok-a&grant_type=authorization_code";
        assert_error(&wechat(&app, "GET", wrong, "").await, 40125, "invalid appsecret");
        let wrong_token = r#"{"grant_type": "client_credential", "appid": "wxc", "secret": "wrong"}"#;
        assert_error(&wechat(&app, "POST", "/cgi-bin/stable_token", wrong_token).await, 40125, "invalid appsecret");

        let code = r#"{"code": "fx", "appid": "wxc", "openid": "o-fx", "session_key": "k==", "unionid": "u-fx"}"#;
        let (status, ..) = send(&app, "POST", "/mock/codes", code).await;
        assert_eq!(status, StatusCode::OK);
        let (status, ..) = send(&app, "POST", "/mock/codes", r#"{"code": "fx-err", "errcode": 40226}"#).await;
        assert_eq!(status, StatusCode::OK);
        let login = "/sns/jscode2session?appid=wxc&secret=right&js_code=fx&grant_type=authorization_code";
        assert_eq!(
            wechat(&app, "GET", login, "").await,
            json!({"openid": "o-fx", "session_key": "k==", "unionid": "u-fx"})
        );
        let login = "/sns/jscode2session?appid=wxc&secret=right&js_code=fx-err&grant_type=authorization_code";
        assert_error(&wechat(&app, "GET", login, "").await, 40226, "high risk user");

        for (uri, body) in [
            ("/mock/apps", "nope"),
            ("/mock/apps", r#"{"appid": "wxc"}"#),
            ("/mock/apps", r#"{"appid": "", "secret": "s"}"#),
            ("/mock/apps", r#"{"appid": "wxc", "secret": ""}"#),
            ("/mock/apps", r#"{"appid": "wxc", "secret": "s", "kind": "mini-program"}"#),
            ("/mock/apps", r#"{"appid": "wxc", "secret": "s", "domain": "a.example"}"#),
            ("/mock/apps", r#"{"appid": "wxc", "secret": "s", "kind": "website", "domain": "a.example:80"}"#),
            ("/mock/codes", r#"{"code": "c", "appid": "wxc"}"#),
            ("/mock/codes", r#"{"code": "c", "errcode": 0}"#),
            ("/mock/access-tokens/expire", "{}"),
        ] {
            let (status, content_type, body) = send(&app, "POST", uri, body).await;
            assert_eq!((status, content_type.as_str()), (StatusCode::BAD_REQUEST, "application/json"), "{uri} {body}");
            assert!(parse(&body)["error"].is_string(), "{body}");
        }
        let (status, ..) = send(&app, "POST", "/mock/access-tokens/expire", r#"{"appid": "wx-none"}"#).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, ..) = send(&app, "GET", "/mock/calls", "").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, ..) = send(&app, "GET", "/cgi-bin/token", "").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}

//! HTTP layer: parses queries and bodies, calls [`Mock`] under the lock,
//! and serializes answers. WeChat routes always answer 200 with JSON served
//! as `text/plain` (errors carry `, rid: …` in `errmsg`); the `/mock/`
//! control routes use `application/json`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::fixtures::CodeSpec;
use crate::state::{Api, Calls, Jscode2SessionRequest, Mock, StableTokenRequest, WxError};

/// Current Unix time in milliseconds.
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[derive(Clone)]
pub struct AppState {
    mock: Arc<Mutex<Mock>>,
    clock: Clock,
}

impl AppState {
    pub fn new(mock: Mock) -> Self {
        Self::with_clock(mock, Arc::new(now_ms))
    }

    pub fn with_clock(mock: Mock, clock: Clock) -> Self {
        Self { mock: Arc::new(Mutex::new(mock)), clock }
    }

    /// The mock and the current time (a poisoned lock is still usable: every
    /// update leaves the state consistent).
    fn lock(&self) -> (MutexGuard<'_, Mock>, u64) {
        let guard = self.mock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        (guard, (self.clock)())
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/sns/jscode2session", get(jscode2session))
        .route("/cgi-bin/stable_token", post(stable_token))
        .route("/wxa/business/getuserphonenumber", post(get_user_phone_number))
        .route("/wxa/checksession", get(check_session))
        .route("/mock/apps", post(register_app))
        .route("/mock/codes", post(add_code))
        .route("/mock/access-tokens/expire", post(expire_token))
        .route("/mock/access-tokens/invalidate", post(invalidate_token))
        .route("/mock/calls", get(calls))
        .route("/mock/health", get(|| async { "ok" }))
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found") })
        .with_state(state)
}

// ---- WeChat routes ----

/// Query parameters; the first of repeated names wins, bad encoding is lenient.
pub fn query_params(raw: Option<String>) -> HashMap<String, String> {
    let pairs: Vec<(String, String)> =
        raw.as_deref().and_then(|q| serde_urlencoded::from_str(q).ok()).unwrap_or_default();
    let mut params = HashMap::new();
    for (name, value) in pairs {
        params.entry(name).or_insert(value);
    }
    params
}

fn wechat_json(body: &impl Serialize) -> Response {
    let text = serde_json::to_string(body).unwrap_or_else(|_| r#"{"errcode":-1,"errmsg":"system error"}"#.to_owned());
    ([(header::CONTENT_TYPE, "text/plain")], text).into_response()
}

/// Runs `f` on the locked mock and answers its result the WeChat way.
fn answer<T: Serialize>(state: &AppState, f: impl FnOnce(&mut Mock, u64) -> Result<T, WxError>) -> Response {
    let (mut mock, now) = state.lock();
    match f(&mut mock, now) {
        Ok(body) => wechat_json(&body),
        Err(err) => {
            let rid = mock.rid(now);
            wechat_json(&json!({"errcode": err.0, "errmsg": format!("{}, rid: {rid}", err.errmsg())}))
        }
    }
}

fn json_object(body: &[u8]) -> Result<Map<String, Value>, WxError> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(object)) => Ok(object),
        _ => Err(WxError::DATA_FORMAT_ERROR),
    }
}

fn string_field(object: &Map<String, Value>, name: &str) -> Result<Option<String>, WxError> {
    match object.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(WxError::DATA_FORMAT_ERROR),
    }
}

async fn jscode2session(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let mut params = query_params(query);
    let req = Jscode2SessionRequest {
        appid: params.remove("appid"),
        secret: params.remove("secret"),
        js_code: params.remove("js_code"),
        grant_type: params.remove("grant_type"),
    };
    answer(&state, |mock, now| mock.jscode2session(&req, now))
}

async fn stable_token(State(state): State<AppState>, body: Bytes) -> Response {
    answer(&state, |mock, now| {
        let object = json_object(&body)?;
        let force_refresh = match object.get("force_refresh") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(force)) => *force,
            Some(_) => return Err(WxError::DATA_FORMAT_ERROR),
        };
        let req = StableTokenRequest {
            grant_type: string_field(&object, "grant_type")?,
            appid: string_field(&object, "appid")?,
            secret: string_field(&object, "secret")?,
            force_refresh,
        };
        mock.stable_token(&req, now)
    })
}

async fn get_user_phone_number(State(state): State<AppState>, RawQuery(query): RawQuery, body: Bytes) -> Response {
    let params = query_params(query);
    answer(&state, |mock, now| {
        let token = params.get("access_token").map(String::as_str);
        let appid = mock.resolve_token(token, Api::GetUserPhoneNumber, now)?;
        let code = string_field(&json_object(&body)?, "code")?;
        let phone_info = mock.phone_number(&appid, code.as_deref(), now)?;
        Ok(json!({"errcode": 0, "errmsg": "ok", "phone_info": phone_info}))
    })
}

async fn check_session(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let params = query_params(query);
    let param = |name: &str| params.get(name).map(String::as_str);
    answer(&state, |mock, now| {
        let appid = mock.resolve_token(param("access_token"), Api::CheckSession, now)?;
        mock.check_session(&appid, param("openid"), param("signature"), param("sig_method"))?;
        Ok(json!({"errcode": 0, "errmsg": "ok"}))
    })
}

// ---- control routes ----

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

#[derive(serde::Deserialize)]
struct AppBody {
    appid: String,
    secret: String,
}

#[derive(serde::Deserialize)]
struct CodeBody {
    code: String,
    #[serde(flatten)]
    spec: CodeSpec,
}

#[derive(serde::Deserialize)]
struct AppidBody {
    appid: String,
}

async fn register_app(State(state): State<AppState>, body: Bytes) -> ControlResult {
    let AppBody { appid, secret } = control_body(&body)?;
    required(&appid, "appid")?;
    required(&secret, "secret")?;
    state.lock().0.register_app(&appid, &secret);
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

async fn calls(State(state): State<AppState>, RawQuery(query): RawQuery) -> Result<Json<Calls>, ControlError> {
    let params = query_params(query);
    let appid = params
        .get("appid")
        .filter(|a| !a.is_empty())
        .ok_or_else(|| bad_request("appid query parameter is required"))?;
    Ok(Json(state.lock().0.calls(appid)))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt as _;

    use super::*;
    use crate::state::{session_key_for, session_signature};

    const T0: u64 = 1_700_000_000_000;

    fn app() -> (Router, Arc<AtomicU64>) {
        let time = Arc::new(AtomicU64::new(T0));
        let clock_time = Arc::clone(&time);
        let state = AppState::with_clock(Mock::new([1; 32]), Arc::new(move || clock_time.load(Ordering::SeqCst)));
        (router(state), time)
    }

    /// Sends a request; returns status, content type and body.
    async fn send(app: &Router, method: &str, uri: &str, body: &str) -> (StatusCode, String, String) {
        let request = Request::builder().method(method).uri(uri).body(Body::from(body.to_owned()));
        let Ok(request) = request else { panic!("bad request {uri}") };
        let Ok(response) = app.clone().oneshot(request).await;
        let status = response.status();
        let content_type =
            response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap_or_default();
        (status, content_type, String::from_utf8_lossy(&bytes).into_owned())
    }

    fn parse(body: &str) -> Value {
        serde_json::from_str(body).unwrap_or(Value::Null)
    }

    /// WeChat answer: 200, text/plain, JSON.
    async fn wechat(app: &Router, method: &str, uri: &str, body: &str) -> Value {
        let (status, content_type, body) = send(app, method, uri, body).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(content_type, "text/plain");
        parse(&body)
    }

    fn assert_error(value: &Value, errcode: i64, errmsg: &str) {
        assert_eq!(value["errcode"], errcode, "{value}");
        let message = value["errmsg"].as_str().unwrap_or_default();
        let prefix = format!("{errmsg}, rid: ");
        assert!(message.starts_with(&prefix), "{message}");
        assert_eq!(message.len(), prefix.len() + 26, "{message}");
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

    #[tokio::test]
    async fn stable_token_phone_and_checksession_flow() {
        let (app, time) = app();
        assert_error(&wechat(&app, "POST", "/cgi-bin/stable_token", "not json").await, 47001, "data format error");
        assert_error(&wechat(&app, "POST", "/cgi-bin/stable_token", "[]").await, 47001, "data format error");
        assert_error(
            &wechat(&app, "POST", "/cgi-bin/stable_token", r#"{"appid": 1}"#).await,
            47001,
            "data format error",
        );
        assert_error(
            &wechat(&app, "POST", "/cgi-bin/stable_token", r#"{"secret": "s", "grant_type": "client_credential"}"#)
                .await,
            41002,
            "appid missing",
        );

        let request = r#"{"grant_type": "client_credential", "appid": "wxf", "secret": "s"}"#;
        let first = wechat(&app, "POST", "/cgi-bin/stable_token", request).await;
        assert_eq!(first["expires_in"], 7200);
        let token = first["access_token"].as_str().unwrap_or_default().to_owned();
        time.fetch_add(60_000, Ordering::SeqCst);
        let again = wechat(&app, "POST", "/cgi-bin/stable_token", request).await;
        assert_eq!(again, json!({"access_token": token, "expires_in": 7140}));

        let phone_uri = format!("/wxa/business/getuserphonenumber?access_token={token}");
        let phone = wechat(&app, "POST", &phone_uri, r#"{"code": "phone-13800138000"}"#).await;
        assert_eq!(
            phone,
            json!({"errcode": 0, "errmsg": "ok", "phone_info": {
                "phoneNumber": "13800138000", "purePhoneNumber": "13800138000", "countryCode": "86",
                "watermark": {"timestamp": T0 / 1000 + 60, "appid": "wxf"}
            }})
        );
        assert_error(
            &wechat(&app, "POST", &phone_uri, r#"{"code": "phone-13800138000"}"#).await,
            40163,
            "code been used",
        );
        assert_error(
            &wechat(&app, "POST", &phone_uri, r#"{"code": "err-45011"}"#).await,
            45011,
            "api minute-quota reach limit  mustslower  retry next minute",
        );
        assert_error(&wechat(&app, "POST", &phone_uri, "{").await, 47001, "data format error");
        assert_error(
            &wechat(&app, "POST", "/wxa/business/getuserphonenumber?access_token=nope", r#"{"code": "phone-1"}"#).await,
            40001,
            "invalid credential, access_token is invalid or not latest",
        );

        let login = "/sns/jscode2session?appid=wxf&secret=s&js_code=ok-gus&grant_type=authorization_code";
        wechat(&app, "GET", login, "").await;
        let signature = session_signature(&session_key_for("gus"), b"").unwrap_or_default();
        let check = format!(
            "/wxa/checksession?access_token={token}&signature={signature}&openid=openid-gus&sig_method=hmac_sha256"
        );
        assert_eq!(wechat(&app, "GET", &check, "").await, json!({"errcode": 0, "errmsg": "ok"}));
        let bad =
            format!("/wxa/checksession?access_token={token}&signature=00&openid=openid-gus&sig_method=hmac_sha256");
        assert_error(&wechat(&app, "GET", &bad, "").await, 87009, "invalid signature");

        // Control: expire, then invalidate.
        let (status, content_type, body) =
            send(&app, "POST", "/mock/access-tokens/expire", r#"{"appid": "wxf"}"#).await;
        assert_eq!(
            (status, content_type.as_str(), parse(&body)),
            (StatusCode::OK, "application/json", json!({"ok": true}))
        );
        assert_error(&wechat(&app, "POST", &phone_uri, r#"{"code": "phone-2"}"#).await, 42001, "access_token expired");
        let renewed = wechat(&app, "POST", "/cgi-bin/stable_token", request).await;
        assert_ne!(renewed["access_token"], json!(token));
        let (status, ..) = send(&app, "POST", "/mock/access-tokens/invalidate", r#"{"appid": "wxf"}"#).await;
        assert_eq!(status, StatusCode::OK);
        let renewed_uri =
            format!("/wxa/checksession?access_token={}", renewed["access_token"].as_str().unwrap_or_default());
        assert_error(
            &wechat(&app, "GET", &renewed_uri, "").await,
            40001,
            "invalid credential, access_token is invalid or not latest",
        );

        let (status, content_type, body) = send(&app, "GET", "/mock/calls?appid=wxf", "").await;
        assert_eq!((status, content_type.as_str()), (StatusCode::OK, "application/json"));
        assert_eq!(
            parse(&body),
            json!({"jscode2session": 1, "stable_token": 3, "getuserphonenumber": 5, "checksession": 3})
        );
    }

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

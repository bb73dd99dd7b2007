//! The router, assembled from the per-API files, and what WeChat's routes
//! share: [`AppState`] (the one [`Mock`] behind one mutex, and a clock),
//! query and JSON-body parsing, and WeChat's way of answering — HTTP 200
//! with JSON served as `text/plain`, errors as
//! `{"errcode": N, "errmsg": "<text>, rid: <hex>"}`. The `/mock/` control
//! routes (`application/json`) are in [`crate::control`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::errors::WxError;
use crate::state::Mock;
use crate::{
    checksession, control, jscode2session, phone, sns_oauth2, sns_userinfo, stable_token, web_authorize, wxacode,
};

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
    pub(crate) fn lock(&self) -> (MutexGuard<'_, Mock>, u64) {
        let guard = self.mock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        (guard, (self.clock)())
    }
}

/// Every route: WeChat's APIs (one file each), then the mock's own.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route(jscode2session::PATH, get(jscode2session::handle))
        .route(stable_token::PATH, post(stable_token::handle))
        .route(phone::PATH, post(phone::handle))
        .route(checksession::PATH, get(checksession::handle))
        .route(web_authorize::PATH, get(web_authorize::handle).post(web_authorize::handle_post))
        .route(
            web_authorize::QRCONNECT_PATH,
            get(web_authorize::handle_qrconnect).post(web_authorize::handle_qrconnect_post),
        )
        .route(sns_oauth2::PATH, get(sns_oauth2::handle))
        .route(sns_oauth2::REFRESH_PATH, get(sns_oauth2::handle_refresh))
        .route(sns_userinfo::PATH, get(sns_userinfo::handle))
        .route(sns_userinfo::AUTH_PATH, get(sns_userinfo::handle_auth))
        .route(wxacode::PATH, post(wxacode::handle))
        .merge(control::routes())
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found") })
        .with_state(state)
}

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
pub(crate) fn answer<T: Serialize>(state: &AppState, f: impl FnOnce(&mut Mock, u64) -> Result<T, WxError>) -> Response {
    let (mut mock, now) = state.lock();
    match f(&mut mock, now) {
        Ok(body) => wechat_json(&body),
        Err(err) => {
            let rid = mock.rid(now);
            wechat_json(&json!({"errcode": err.0, "errmsg": format!("{}, rid: {rid}", err.errmsg())}))
        }
    }
}

/// A JSON body that must be an object (else 47001).
pub(crate) fn json_object(body: &[u8]) -> Result<Map<String, Value>, WxError> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(object)) => Ok(object),
        _ => Err(WxError::DATA_FORMAT_ERROR),
    }
}

/// An optional string field of a JSON body (null is absent; another type → 47001).
pub(crate) fn string_field(object: &Map<String, Value>, name: &str) -> Result<Option<String>, WxError> {
    match object.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(WxError::DATA_FORMAT_ERROR),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::*;
    use crate::checksession::session_signature;
    use crate::jscode2session::session_key_for;
    use crate::testing::{T0, app, assert_error, parse, send, wechat};

    /// The APIs together through one router: a token, a phone number, a
    /// login checked by checksession, the token expired and invalidated by
    /// the control routes, and every call counted.
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
            json!({
                "jscode2session": 1, "stable_token": 3, "getuserphonenumber": 5, "checksession": 3,
                "web_authorize": 0, "sns_oauth2_access_token": 0, "sns_oauth2_refresh_token": 0,
                "sns_userinfo": 0, "sns_auth": 0, "getwxacodeunlimit": 0
            })
        );
    }
}

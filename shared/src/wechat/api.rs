//! The WeChat server API, as a client. Base URL from `WECHAT_API_BASE`.
//!
//! WeChat answers JSON labelled `text/plain`, and errors as `{"errcode", "errmsg"}` with HTTP
//! 200: bodies are parsed whatever their content type, and `errcode` decides. Errors never carry
//! the request URL (it holds the app secret).

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

use super::errcode;
use crate::error::{Error, OAuthError};
use crate::metrics::{self, Metric};

/// A WeChat session key: 16 bytes, base64 as WeChat sends it. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionKey(pub String);

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionKey(..)")
    }
}

/// What `jscode2session` returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub openid: String,
    pub unionid: Option<String>,
    pub session_key: SessionKey,
}

/// A failed WeChat call.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WechatError {
    /// WeChat answered with an error code.
    #[error("WeChat error {errcode}: {errmsg}")]
    Api { errcode: i64, errmsg: String },
    /// No answer: connection refused, timeout, 5xx.
    #[error("WeChat unreachable: {0}")]
    Unreachable(String),
    /// An answer we cannot use.
    #[error("WeChat answered something unusable: {0}")]
    Malformed(String),
}

impl WechatError {
    /// How a failed call reaches our client when no more specific answer applies: WeChat down
    /// or busy is 503, its per-minute quota 429, anything else 502 (our configuration, or an
    /// answer we cannot use). `call` names the API in the log.
    pub fn into_error(self, call: &'static str) -> Error {
        match self {
            WechatError::Api { errcode: errcode::MINUTE_QUOTA_REACHED, .. } => {
                OAuthError::temporarily_unavailable("WeChat's per-minute quota is exhausted; retry in a minute")
                    .with_status(429)
                    .with_retry_after(60)
                    .into()
            }
            e @ (WechatError::Unreachable(_) | WechatError::Api { errcode: errcode::SYSTEM_BUSY, .. }) => {
                Error::Unavailable(anyhow::Error::new(e).context(call))
            }
            e => Error::BadGateway(anyhow::Error::new(e).context(call)),
        }
    }

    /// WeChat's -1, "system busy": nothing was consumed, so one retry is safe.
    pub fn is_busy(&self) -> bool {
        matches!(self, WechatError::Api { errcode: errcode::SYSTEM_BUSY, .. })
    }
}

/// A client of the WeChat server API.
#[derive(Clone, Debug)]
pub struct WechatClient {
    pub(super) http: reqwest::Client,
    pub(super) base: String,
}

#[derive(Deserialize)]
struct Jscode2sessionBody {
    #[serde(default)]
    errcode: i64,
    #[serde(default)]
    errmsg: String,
    openid: Option<String>,
    session_key: Option<String>,
    unionid: Option<String>,
}

/// The server's access token (`stable_token`). Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct ServerToken {
    pub access_token: String,
    pub expires_in: i64,
}

impl fmt::Debug for ServerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ServerToken(.., expires_in: {})", self.expires_in)
    }
}

/// `phone_info` of `getuserphonenumber`, in WeChat's field names.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PhoneInfo {
    /// With the country code for numbers outside mainland China.
    pub phone_number: String,
    pub pure_phone_number: String,
    pub country_code: String,
    pub watermark: Watermark,
}

impl fmt::Debug for PhoneInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneInfo(.., appid: {})", self.watermark.appid)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Watermark {
    pub appid: String,
    #[serde(default)]
    pub timestamp: i64,
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    errcode: i64,
    #[serde(default)]
    errmsg: String,
}

#[derive(Deserialize)]
struct StableTokenBody {
    #[serde(default)]
    errcode: i64,
    #[serde(default)]
    errmsg: String,
    access_token: Option<String>,
    #[serde(default)]
    expires_in: i64,
}

#[derive(Deserialize)]
struct PhoneBody {
    #[serde(default)]
    errcode: i64,
    #[serde(default)]
    errmsg: String,
    phone_info: Option<PhoneInfo>,
}

/// The longest code we pass on to WeChat. Its codes (`wx.login()`'s, the phone button's) are
/// 32 to 64 printable ASCII characters.
pub const MAX_CODE_CHARS: usize = 128;

/// Whether `code` could be a WeChat code: 1 to [`MAX_CODE_CHARS`] printable ASCII characters.
/// Anything else is the client's mistake, answered before WeChat is asked (which would refuse
/// an oversized URL or body with something we could only report as a 502).
pub fn plausible_code(code: &str) -> bool {
    (1..=MAX_CODE_CHARS).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_graphic())
}

impl WechatClient {
    pub fn new(base: impl Into<String>, timeout: Duration) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder().timeout(timeout).connect_timeout(timeout).build()?;
        Ok(Self { http, base: base.into() })
    }

    /// `GET /sns/jscode2session`: a `wx.login()` code for the user's openid and session key.
    /// Retried once when WeChat is busy (-1) or the connection could not be made: in both cases
    /// the code was not consumed.
    pub async fn jscode2session(&self, appid: &str, secret: &str, code: &str) -> Result<Session, WechatError> {
        observe("jscode2session", retry_once(|| self.jscode2session_once(appid, secret, code)).await)
    }

    async fn jscode2session_once(&self, appid: &str, secret: &str, code: &str) -> Result<Session, WechatError> {
        let request = self.http.get(format!("{}/sns/jscode2session", self.base)).query(&[
            ("appid", appid),
            ("secret", secret),
            ("js_code", code),
            ("grant_type", "authorization_code"),
        ]);
        let body: Jscode2sessionBody = self.call(request).await?;
        if body.errcode != 0 {
            return Err(WechatError::Api { errcode: body.errcode, errmsg: body.errmsg });
        }
        match (body.openid, body.session_key) {
            (Some(openid), Some(key)) if !openid.is_empty() && !key.is_empty() => {
                Ok(Session { openid, unionid: body.unionid.filter(|u| !u.is_empty()), session_key: SessionKey(key) })
            }
            _ => Err(WechatError::Malformed("jscode2session without openid or session_key".into())),
        }
    }

    /// `POST /cgi-bin/stable_token` in normal mode: every caller gets the same token until it
    /// expires, so concurrent Lambda instances need no lock. `force_refresh` invalidates it for
    /// everyone and is rate-limited by WeChat: only for a token WeChat itself rejected.
    pub async fn stable_token(
        &self,
        appid: &str,
        secret: &str,
        force_refresh: bool,
    ) -> Result<ServerToken, WechatError> {
        let body = serde_json::json!({"grant_type": "client_credential", "appid": appid, "secret": secret, "force_refresh": force_refresh});
        // WeChat's -1 comes in a 200 answer: the errcode is checked inside the retry.
        let once = || async {
            let body: StableTokenBody = self.call(self.post_json("/cgi-bin/stable_token", &[], &body)).await?;
            check(body.errcode, body.errmsg)?;
            match body.access_token {
                Some(token) if !token.is_empty() && body.expires_in > 0 => {
                    Ok(ServerToken { access_token: token, expires_in: body.expires_in })
                }
                _ => Err(WechatError::Malformed("stable_token without access_token".into())),
            }
        };
        observe("stable_token", retry_once(once).await)
    }

    /// `POST /wxa/business/getuserphonenumber`: the number behind a phone-button `code`.
    pub async fn phone_number(&self, access_token: &str, code: &str) -> Result<PhoneInfo, WechatError> {
        let body = serde_json::json!({"code": code});
        let path = "/wxa/business/getuserphonenumber";
        let once = || async {
            let body: PhoneBody = self.call(self.post_json(path, &[("access_token", access_token)], &body)).await?;
            check(body.errcode, body.errmsg)?;
            body.phone_info.ok_or_else(|| WechatError::Malformed("getuserphonenumber without phone_info".into()))
        };
        observe("getuserphonenumber", retry_once(once).await)
    }

    /// `GET /wxa/checksession`: whether WeChat still holds `signature`'s session key as the
    /// user's current one. WeChat's 87009 ("invalid signature") means no.
    pub async fn check_session(&self, access_token: &str, openid: &str, signature: &str) -> Result<bool, WechatError> {
        let request = || {
            self.http.get(format!("{}/wxa/checksession", self.base)).query(&[
                ("access_token", access_token),
                ("openid", openid),
                ("signature", signature),
                ("sig_method", "hmac_sha256"),
            ])
        };
        let once = || async {
            let body: Envelope = self.call(request()).await?;
            match check(body.errcode, body.errmsg) {
                Ok(()) => Ok(true),
                Err(WechatError::Api { errcode: 87009, .. }) => Ok(false),
                Err(e) => Err(e),
            }
        };
        observe("checksession", retry_once(once).await)
    }

    fn post_json(&self, path: &str, query: &[(&str, &str)], body: &serde_json::Value) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}{path}", self.base))
            .query(query)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string())
    }

    pub(super) async fn call<T: serde::de::DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, WechatError> {
        let response = request.send().await.map_err(transport)?;
        let status = response.status();
        if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            return Err(WechatError::Unreachable(format!("HTTP {status}")));
        }
        let bytes = response.bytes().await.map_err(transport)?;
        if !status.is_success() {
            return Err(WechatError::Malformed(format!("HTTP {status}")));
        }
        serde_json::from_slice(&bytes).map_err(|_| WechatError::Malformed(format!("not JSON ({} bytes)", bytes.len())))
    }
}

const CONNECT: &str = "connect:";

/// Counts a call of WeChat's `api` and, when it failed, how: WeChat's errcode, or a fault.
pub(super) fn observe<T>(api: &'static str, result: Result<T, WechatError>) -> Result<T, WechatError> {
    metrics::count(Metric::WechatCalls, &[("Api", api)]);
    match &result {
        Ok(_) => {}
        Err(WechatError::Api { errcode, .. }) => {
            metrics::count(Metric::WechatErrors, &[("Api", api), ("Errcode", &errcode.to_string())]);
            if *errcode == -1 {
                metrics::count(Metric::UpstreamFaults, &[("Service", "wechat"), ("Fault", "busy")]);
            }
        }
        Err(WechatError::Unreachable(_)) => {
            metrics::count(Metric::UpstreamFaults, &[("Service", "wechat"), ("Fault", "unreachable")]);
        }
        Err(WechatError::Malformed(_)) => {
            metrics::count(Metric::UpstreamFaults, &[("Service", "wechat"), ("Fault", "malformed")]);
        }
    }
    result
}

/// Runs `call` again, once, after WeChat said it was busy or the connection could not be made:
/// in both cases WeChat consumed nothing (no code, no quota), so a retry is safe.
pub(super) async fn retry_once<T, F, Fut>(call: F) -> Result<T, WechatError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, WechatError>>,
{
    match call().await {
        Err(e) if e.is_busy() || matches!(e, WechatError::Unreachable(ref m) if m.starts_with(CONNECT)) => {
            tokio::time::sleep(Duration::from_millis(100)).await;
            call().await
        }
        other => other,
    }
}

/// WeChat's error envelope: `errcode` 0 (or absent) is success.
pub(super) fn check(errcode: i64, errmsg: String) -> Result<(), WechatError> {
    if errcode == 0 { Ok(()) } else { Err(WechatError::Api { errcode, errmsg }) }
}

/// A transport failure, without the URL (it holds the app secret).
pub(super) fn transport(e: reqwest::Error) -> WechatError {
    let kind = if e.is_connect() {
        CONNECT
    } else if e.is_timeout() {
        "timeout:"
    } else {
        "transport:"
    };
    WechatError::Unreachable(format!("{kind} {}", e.without_url()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plausible_code_is_1_to_128_printable_ascii_characters() {
        for ok in ["0a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P", "ok-amy.u", "ok-amy~2", "phone-13812345678", "err--1"] {
            assert!(plausible_code(ok), "{ok}");
        }
        assert!(plausible_code(&"x".repeat(MAX_CODE_CHARS)));
        for bad in ["", "a b", "a\nb", "ä", &"x".repeat(MAX_CODE_CHARS + 1)] {
            assert!(!plausible_code(bad), "{bad:?}");
        }
    }
}

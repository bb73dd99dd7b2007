//! The WeChat server API, as a client. Base URL from `WECHAT_API_BASE`.
//!
//! WeChat answers JSON labelled `text/plain`, and errors as `{"errcode", "errmsg"}` with HTTP
//! 200: bodies are parsed whatever their content type, and `errcode` decides. Errors never carry
//! the request URL (it holds the app secret).

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

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
    /// WeChat's -1, "system busy": nothing was consumed, so one retry is safe.
    pub fn is_busy(&self) -> bool {
        matches!(self, WechatError::Api { errcode: -1, .. })
    }
}

/// A client of the WeChat server API.
#[derive(Clone, Debug)]
pub struct WechatClient {
    http: reqwest::Client,
    base: String,
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

impl WechatClient {
    pub fn new(base: impl Into<String>, timeout: Duration) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()?;
        Ok(Self {
            http,
            base: base.into(),
        })
    }

    /// `GET /sns/jscode2session`: a `wx.login()` code for the user's openid and session key.
    /// Retried once when WeChat is busy (-1) or the connection could not be made: in both cases
    /// the code was not consumed.
    pub async fn jscode2session(
        &self,
        appid: &str,
        secret: &str,
        code: &str,
    ) -> Result<Session, WechatError> {
        match self.jscode2session_once(appid, secret, code).await {
            Err(e)
                if e.is_busy()
                    || matches!(e, WechatError::Unreachable(ref m) if m.starts_with(CONNECT)) =>
            {
                tokio::time::sleep(Duration::from_millis(100)).await;
                self.jscode2session_once(appid, secret, code).await
            }
            other => other,
        }
    }

    async fn jscode2session_once(
        &self,
        appid: &str,
        secret: &str,
        code: &str,
    ) -> Result<Session, WechatError> {
        let request = self
            .http
            .get(format!("{}/sns/jscode2session", self.base))
            .query(&[
                ("appid", appid),
                ("secret", secret),
                ("js_code", code),
                ("grant_type", "authorization_code"),
            ]);
        let body: Jscode2sessionBody = self.call(request).await?;
        if body.errcode != 0 {
            return Err(WechatError::Api {
                errcode: body.errcode,
                errmsg: body.errmsg,
            });
        }
        match (body.openid, body.session_key) {
            (Some(openid), Some(key)) if !openid.is_empty() && !key.is_empty() => Ok(Session {
                openid,
                unionid: body.unionid.filter(|u| !u.is_empty()),
                session_key: SessionKey(key),
            }),
            _ => Err(WechatError::Malformed(
                "jscode2session without openid or session_key".into(),
            )),
        }
    }

    async fn call<T: serde::de::DeserializeOwned>(
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
        serde_json::from_slice(&bytes)
            .map_err(|_| WechatError::Malformed(format!("not JSON ({} bytes)", bytes.len())))
    }
}

const CONNECT: &str = "connect:";

/// A transport failure, without the URL (it holds the app secret).
fn transport(e: reqwest::Error) -> WechatError {
    let kind = if e.is_connect() {
        CONNECT
    } else if e.is_timeout() {
        "timeout:"
    } else {
        "transport:"
    };
    WechatError::Unreachable(format!("{kind} {}", e.without_url()))
}

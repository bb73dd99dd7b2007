//! WeChat's `POST /wxa/getwxacodeunlimit`: a mini program's code that opens `page` with `scene`
//! (at most 32 characters). WeChat answers the image itself on success and its JSON error
//! envelope otherwise, both with HTTP 200: the content type tells them apart.

use serde::Deserialize;

use super::api::{WechatClient, WechatError, check, observe, retry_once, transport};
use crate::domain::scan::ScanImage;

/// "invalid page": `page` is not in the published version of the mini program (with
/// `check_path`).
pub const PAGE_NOT_PUBLISHED: i64 = 41030;
/// The API's rate limit (5,000 calls a minute per mini program) is reached.
pub const RATE_LIMITED: i64 = 45009;
/// The smallest width WeChat makes (pixels): the page shows it at 200, and a small image keeps
/// the cached item small.
const WIDTH: u32 = 280;

/// What to put in the code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeRequest<'a> {
    pub scene: &'a str,
    pub page: &'a str,
    /// `release`, `trial` or `develop`.
    pub env_version: &'a str,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    errcode: i64,
    #[serde(default)]
    errmsg: String,
}

/// The code for `request`, made with the mini program's server `access_token`. Retried once
/// when WeChat is busy or could not be reached (nothing was made).
pub async fn unlimited_code(
    client: &WechatClient,
    access_token: &str,
    request: &CodeRequest<'_>,
) -> Result<ScanImage, WechatError> {
    let body = serde_json::json!({
        "scene": request.scene,
        "page": request.page,
        // Only a published page can be checked; a trial or develop version has none yet.
        "check_path": request.env_version == "release",
        "env_version": request.env_version,
        "width": WIDTH,
        // A PNG (WeChat answers JPEG for an opaque code).
        "is_hyaline": true,
    });
    let once = || async {
        let response = client
            .http
            .post(format!("{}/wxa/getwxacodeunlimit", client.base))
            .query(&[("access_token", access_token)])
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            return Err(WechatError::Unreachable(format!("HTTP {status}")));
        }
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        let bytes = response.bytes().await.map_err(transport)?;
        if !status.is_success() {
            return Err(WechatError::Malformed(format!("HTTP {status}")));
        }
        if content_type.starts_with("image/") {
            let content_type = content_type.split(';').next().unwrap_or("image/png").trim().to_string();
            return Ok(ScanImage { content_type, bytes: bytes.to_vec() });
        }
        let error: ErrorBody = serde_json::from_slice(&bytes)
            .map_err(|_| WechatError::Malformed(format!("neither an image nor JSON ({} bytes)", bytes.len())))?;
        check(error.errcode, error.errmsg)?;
        Err(WechatError::Malformed("getwxacodeunlimit answered errcode 0 without an image".into()))
    };
    observe("getwxacodeunlimit", retry_once(once).await)
}

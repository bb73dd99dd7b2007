//! `POST /wechat/decrypt`: a mini program's `encryptedData` (e.g. from `wx.getUserProfile` or
//! `wx.getWeRunData`), decrypted with the caller's stored session key and checked: strict
//! PKCS#7, the watermark's appid, and `rawData`'s signature when given.
//!
//! The current key is tried first, then the one it replaced (two quick `wx.login` calls leave
//! data in flight under the older key). A key that fits neither answers `invalid_session_key`:
//! the mini program must call `wx.login()` again.

use serde::Deserialize;
use serde_json::json;
use wxauth::App;
use wxauth::http::{self, Request, Response};
use wxauth::oauth::error::{Error, OAuthError};
use wxauth::wechat::caller::{self, invalid_session_key};
use wxauth::wechat::crypto::{self, CryptoError};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DecryptRequest {
    encrypted_data: String,
    iv: String,
    raw_data: Option<String>,
    signature: Option<String>,
}

pub async fn handle(app: &App, req: Request) -> Response {
    http::respond(decrypt(app, &req).await)
}

async fn decrypt(app: &App, req: &Request) -> Result<Response, Error> {
    // Authenticate before reading the body: an anonymous caller learns nothing about it.
    let now = wxauth::unix_now();
    let caller = caller::authenticate(app, req.headers(), now).await?;
    let body: DecryptRequest = http::json(req)?;
    let raw = match (&body.raw_data, &body.signature) {
        (Some(raw), Some(signature)) => Some((raw.as_str(), signature.as_str())),
        (None, None) => None,
        _ => return Err(OAuthError::invalid_request("raw_data and signature go together").into()),
    };
    let Some(stored) = caller.stored_session_keys(app, now).await? else { return Err(invalid_session_key()) };
    for ciphertext in std::iter::once(&stored.current).chain(stored.previous.as_ref()) {
        let key = caller.decrypt_session_key(app, ciphertext).await?;
        match crypto::decrypt(&key.0, &body.encrypted_data, &body.iv, &caller.app.appid) {
            Ok(data) => {
                // Data that names a user (getUserInfo's openId) must name the caller.
                if data.get("openId").and_then(|o| o.as_str()).is_some_and(|o| o != caller.openid) {
                    return Err(OAuthError::invalid_request("the data belongs to another user").into());
                }
                if let Some((raw_data, signature)) = raw {
                    crypto::verify_raw_data(raw_data, &key.0, signature).map_err(client_error)?;
                }
                return Ok(http::no_store(http::json_response(200, &json!({ "data": data }))));
            }
            Err(e) if e.is_stale_key() => continue,
            Err(e) => return Err(client_error(e)),
        }
    }
    Err(invalid_session_key())
}

/// Malformed input (base64, lengths) or a signature that does not match.
fn client_error(e: CryptoError) -> Error {
    OAuthError::invalid_request(e.to_string()).into()
}

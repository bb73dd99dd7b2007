//! `POST /wechat/decrypt`: a mini program's `encryptedData` (e.g. from `wx.getUserProfile` or
//! `wx.getWeRunData`), decrypted with the caller's stored session key and checked: strict
//! PKCS#7, the watermark's appid, and `rawData`'s signature when given.
//!
//! The current key is tried first, then the one it replaced (two quick `wx.login` calls leave
//! data in flight under the older key). A key that fits neither answers `invalid_session_key`:
//! the mini program must call `wx.login()` again.
//!
//! WeChat's scheme is AES-128-CBC without a MAC: whoever sends `encrypted_data` and `iv` can
//! rewrite the first 16 bytes of the plaintext at will by changing the IV, and the padding and
//! watermark checks still pass. Only user-profile data comes with `raw_data` and `signature`
//! (`sha1(rawData + session_key)`, which the client cannot forge without the session key); then
//! every field of `raw_data` must equal the decrypted field, and the answer says
//! `"authenticated": true`. Other kinds (WeRun steps, group ids, …) are `"authenticated":
//! false`: a backend that must not trust the client sets `"require_signature": true` and gets
//! 400 instead of unauthenticated data.

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
    /// Refuse data that `raw_data` and `signature` do not authenticate.
    #[serde(default)]
    require_signature: bool,
}

pub async fn handle(app: &App, req: Request) -> Response {
    http::respond(decrypt(app, &req).await)
}

async fn decrypt(app: &App, req: &Request) -> Result<Response, Error> {
    // The method first, as on every route; then authenticate before reading the body: an
    // anonymous caller learns nothing about it.
    if req.method() != http::Method::POST {
        return Err(http::method_not_allowed("POST").into());
    }
    let now = wxauth::unix_now();
    let caller = caller::authenticate(app, req.headers(), now).await?;
    let body: DecryptRequest = http::json(req)?;
    let raw = match (&body.raw_data, &body.signature) {
        (Some(raw), Some(signature)) => Some((raw.as_str(), signature.as_str())),
        (None, None) if body.require_signature => {
            return Err(OAuthError::invalid_request(
                "require_signature: this data comes without raw_data and signature, so nothing authenticates it",
            )
            .into());
        }
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
                    if !raw_data_matches(raw_data, &data) {
                        return Err(OAuthError::invalid_request("raw_data differs from the encrypted data").into());
                    }
                }
                let answer = json!({ "data": data, "authenticated": raw.is_some() });
                return Ok(http::no_store(http::json_response(200, &answer)));
            }
            Err(e) if e.is_stale_key() => continue,
            Err(e) => return Err(client_error(e)),
        }
    }
    Err(invalid_session_key())
}

/// Whether every field of the signed `raw_data` is the decrypted data's: the signature covers
/// `raw_data` only, so this is what carries it over to the encrypted data (whose first block a
/// client can rewrite through the IV).
fn raw_data_matches(raw_data: &str, data: &serde_json::Value) -> bool {
    let Ok(serde_json::Value::Object(raw)) = serde_json::from_str::<serde_json::Value>(raw_data) else { return false };
    raw.iter().all(|(field, value)| data.get(field) == Some(value))
}

/// Malformed input (base64, lengths) or a signature that does not match.
fn client_error(e: CryptoError) -> Error {
    OAuthError::invalid_request(e.to_string()).into()
}

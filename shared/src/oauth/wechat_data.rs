//! The rules of the WeChat data routes (`/wechat/*`), for a caller already authenticated by
//! its bearer token ([`crate::oauth::wechat_caller`]): the phone number behind a phone-number
//! button's code, whether the stored session key is still WeChat's, and decrypting
//! `encryptedData`. The routes' own handlers only parse and answer.
//!
//! Decryption: the current key is tried first, then the one it replaced (two quick `wx.login`
//! calls leave data in flight under the older key). A key that fits neither answers
//! `invalid_session_key`: the mini program must call `wx.login()` again.
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

use super::server_token::with_server_token;
use super::wechat_caller::{WechatCaller, invalid_session_key};
use crate::App;
use crate::domain::user::Phone;
use crate::error::{Error, OAuthError};
use crate::wechat::api::{PhoneInfo, WechatError, plausible_code};
use crate::wechat::crypto::{self, CryptoError, checksession_signature};
use crate::wechat::errcode;

/// `POST /wechat/phone`'s body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhoneRequest {
    pub code: String,
}

/// `POST /wechat/decrypt`'s body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecryptRequest {
    pub encrypted_data: String,
    pub iv: String,
    pub raw_data: Option<String>,
    pub signature: Option<String>,
    /// Refuse data that `raw_data` and `signature` do not authenticate.
    #[serde(default)]
    pub require_signature: bool,
}

/// Decrypted data, and whether `raw_data`'s signature authenticated it.
#[derive(Debug)]
pub struct Decrypted {
    pub data: serde_json::Value,
    pub authenticated: bool,
}

/// The phone number behind a phone-number button's `code` (WeChat `getuserphonenumber`), stored
/// on the caller's user (and so in `/userinfo`).
pub async fn phone_number(app: &App, caller: &WechatCaller, code: &str, now: i64) -> Result<Phone, Error> {
    if code.is_empty() {
        return Err(OAuthError::invalid_request("missing code").into());
    }
    if !plausible_code(code) {
        return Err(OAuthError::invalid_request("the code is not a phone-number button's code").into());
    }
    let info =
        with_server_token(app, &caller.app, now, |token| async move { app.wechat.phone_number(&token, code).await })
            .await?
            .map_err(phone_error)?;
    if info.watermark.appid != caller.app.appid {
        return Err(Error::BadGateway(anyhow::anyhow!("getuserphonenumber answered for another appid")));
    }
    let PhoneInfo { phone_number, pure_phone_number, country_code, .. } = info;
    let phone = Phone { phone_number, pure_phone_number, country_code };
    app.store.set_user_phone(&caller.user.id, &phone, now).await?;
    Ok(phone)
}

fn phone_error(e: WechatError) -> Error {
    match e {
        WechatError::Api { errcode: errcode::INVALID_CODE | errcode::CODE_BEEN_USED, .. } => {
            OAuthError::invalid_request("the phone code is invalid, expired or used: ask the user again").into()
        }
        e => e.into_error("getuserphonenumber"),
    }
}

/// Whether the caller's stored session key is still the one WeChat holds (`wxa/checksession`);
/// `false` when none is stored.
pub async fn session_key_is_current(app: &App, caller: &WechatCaller, now: i64) -> Result<bool, Error> {
    let Some(stored) = caller.stored_session_keys(app, now).await? else { return Ok(false) };
    let key = caller.decrypt_session_key(app, &stored.current).await?;
    let signature = checksession_signature(&key.0);
    with_server_token(app, &caller.app, now, |token| {
        let signature = &signature;
        async move { app.wechat.check_session(&token, &caller.openid, signature).await }
    })
    .await?
    .map_err(|e| e.into_error("checksession"))
}

/// `encryptedData` decrypted with the caller's session key and checked (module docs).
pub async fn decrypt(app: &App, caller: &WechatCaller, body: &DecryptRequest, now: i64) -> Result<Decrypted, Error> {
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
                return Ok(Decrypted { data, authenticated: raw.is_some() });
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

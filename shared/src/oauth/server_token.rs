//! A mini program's WeChat server access token, as cheap as it can be had, and the one way the
//! WeChat data routes call an API that takes it ([`with_server_token`]).
//!
//! In order: this container's memory ([`ServerTokens`]), the table (shared by every container;
//! envelope-encrypted), and WeChat's `stable_token` in normal mode (every caller gets the same
//! token until it expires, so concurrent containers need no lock). Tokens are used until 5
//! minutes before they expire. When WeChat rejects a token anyway (40001 invalid, 42001
//! expired), [`renew`] fetches a fresh one, forcing a refresh only if WeChat hands back the
//! token it just rejected.
//!
//! [`ServerTokens`]: crate::wechat::server_token::ServerTokens

use std::future::Future;

use crate::App;
use crate::domain::client::WechatApp;
use crate::error::Error;
use crate::wechat::api::{ServerToken, WechatError};
use crate::wechat::errcode;
use crate::wechat::server_token::{MARGIN_SECONDS, context};

/// Calls a WeChat API that takes the server token: with the current token, and once more with a
/// renewed one when WeChat refuses the token itself. Other WeChat errors come back as they are.
pub async fn with_server_token<T, F, Fut>(
    app: &App,
    wechat_app: &WechatApp,
    now: i64,
    call: F,
) -> Result<Result<T, WechatError>, Error>
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<T, WechatError>>,
{
    let token = get(app, wechat_app, now).await?;
    match call(token.clone()).await {
        Err(WechatError::Api { errcode, .. }) if errcode::rejects_server_token(errcode) => {
            let token = renew(app, wechat_app, &token, now).await?;
            Ok(call(token).await)
        }
        other => Ok(other),
    }
}

/// A token for `wechat_app` that was valid a moment ago.
pub async fn get(app: &App, wechat_app: &WechatApp, now: i64) -> Result<String, Error> {
    if let Some(token) = app.server_tokens.cached(&wechat_app.appid, now) {
        return Ok(token);
    }
    if let Some((ciphertext, until)) = app.store.server_token(&wechat_app.appid, now).await? {
        let plain = app.data_key.decrypt(&ciphertext, &context(&wechat_app.appid)).await?;
        let token = String::from_utf8(plain).map_err(|e| Error::Internal(e.into()))?;
        app.server_tokens.remember(&wechat_app.appid, &token, until);
        return Ok(token);
    }
    fetch(app, wechat_app, false, now).await
}

/// A fresh token after WeChat refused `rejected`.
pub async fn renew(app: &App, wechat_app: &WechatApp, rejected: &str, now: i64) -> Result<String, Error> {
    app.server_tokens.forget(&wechat_app.appid);
    let token = fetch(app, wechat_app, false, now).await?;
    if token != rejected {
        return Ok(token);
    }
    fetch(app, wechat_app, true, now).await
}

async fn fetch(app: &App, wechat_app: &WechatApp, force_refresh: bool, now: i64) -> Result<String, Error> {
    let secret = app.app_secrets.secret(&app.data_key, wechat_app).await?;
    let ServerToken { access_token, expires_in } = app
        .wechat
        .stable_token(&wechat_app.appid, &secret, force_refresh)
        .await
        .map_err(|e| e.into_error("stable_token"))?;
    let until = now + (expires_in - MARGIN_SECONDS).max(0);
    let ciphertext = app.data_key.encrypt(access_token.as_bytes(), &context(&wechat_app.appid)).await?;
    app.store.put_server_token(&wechat_app.appid, ciphertext, until).await?;
    app.server_tokens.remember(&wechat_app.appid, &access_token, until);
    Ok(access_token)
}

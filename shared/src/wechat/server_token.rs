//! A mini program's WeChat server access token, as cheap as it can be had.
//!
//! In order: this container's memory, the table (shared by every container; KMS-encrypted), and
//! WeChat's `stable_token` in normal mode (every caller gets the same token until it expires, so
//! concurrent containers need no lock). Tokens are used until 5 minutes before they expire.
//! When WeChat rejects a token anyway (40001 invalid, 42001 expired), [`ServerTokens::renew`]
//! fetches a fresh one, forcing a refresh only if WeChat hands back the token it just rejected.

use std::collections::HashMap;
use std::sync::Mutex;

use super::api::ServerToken;
use crate::App;
use crate::oauth::error::Error;
use crate::store::clients::WechatApp;

/// Tokens stop being used this long before WeChat would expire them.
const MARGIN_SECONDS: i64 = 300;

fn context(appid: &str) -> [(&'static str, &str); 2] {
    [("purpose", "wechat-access-token"), ("appid", appid)]
}

/// The per-container cache: appid -> (token, use until).
#[derive(Default)]
pub struct ServerTokens {
    cache: Mutex<HashMap<String, (String, i64)>>,
}

/// Whether WeChat's error means the access token itself was refused.
pub fn is_token_rejected(errcode: i64) -> bool {
    matches!(errcode, 40001 | 42001)
}

impl std::fmt::Debug for ServerTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerTokens(..)") // live WeChat credentials: never printed
    }
}

impl ServerTokens {
    /// A token for `wechat_app` that was valid a moment ago.
    pub async fn get(&self, app: &App, wechat_app: &WechatApp, now: i64) -> Result<String, Error> {
        if let Some(token) = self.cached(&wechat_app.appid, now) {
            return Ok(token);
        }
        if let Some((ciphertext, until)) = app.store.server_token(&wechat_app.appid, now).await? {
            let plain = app.data_key.decrypt(&ciphertext, &context(&wechat_app.appid)).await?;
            let token = String::from_utf8(plain).map_err(|e| Error::Internal(e.into()))?;
            self.remember(&wechat_app.appid, &token, until);
            return Ok(token);
        }
        self.fetch(app, wechat_app, false, now).await
    }

    /// A fresh token after WeChat refused `rejected`.
    pub async fn renew(&self, app: &App, wechat_app: &WechatApp, rejected: &str, now: i64) -> Result<String, Error> {
        if let Ok(mut cache) = self.cache.lock() {
            cache.remove(&wechat_app.appid);
        }
        let token = self.fetch(app, wechat_app, false, now).await?;
        if token != rejected {
            return Ok(token);
        }
        self.fetch(app, wechat_app, true, now).await
    }

    async fn fetch(&self, app: &App, wechat_app: &WechatApp, force_refresh: bool, now: i64) -> Result<String, Error> {
        let secret = app.app_secrets.secret(&app.data_key, wechat_app).await?;
        let ServerToken { access_token, expires_in } = app
            .wechat
            .stable_token(&wechat_app.appid, &secret, force_refresh)
            .await
            .map_err(|e| e.into_error("stable_token"))?;
        let until = now + (expires_in - MARGIN_SECONDS).max(0);
        let ciphertext = app.data_key.encrypt(access_token.as_bytes(), &context(&wechat_app.appid)).await?;
        app.store.put_server_token(&wechat_app.appid, ciphertext, until).await?;
        self.remember(&wechat_app.appid, &access_token, until);
        Ok(access_token)
    }

    fn cached(&self, appid: &str, now: i64) -> Option<String> {
        let cache = self.cache.lock().ok()?;
        cache.get(appid).filter(|(_, until)| *until > now).map(|(token, _)| token.clone())
    }

    fn remember(&self, appid: &str, token: &str, until: i64) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(appid.to_string(), (token.to_string(), until));
        }
    }
}

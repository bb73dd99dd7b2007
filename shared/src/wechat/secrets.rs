//! WeChat secrets at rest: app secrets (opened with the data key, [`crate::keys::data_key`], once
//! per container and kept in memory, since every login needs one) and the encryption contexts of
//! both kinds.

use crate::domain::user::Openid;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::domain::client::WechatApp;
use crate::error::Error;
use crate::keys::data_key::DataKey;

/// How long a decrypted secret is trusted: a rotated secret (new ciphertext) is picked up at
/// once anyway, since the cache is keyed by ciphertext.
const TTL: Duration = Duration::from_secs(600);

#[derive(Default)]
pub struct AppSecrets {
    cache: Mutex<HashMap<Vec<u8>, (Instant, String)>>,
}

impl std::fmt::Debug for AppSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AppSecrets(..)") // plaintext secrets: never printed
    }
}

impl AppSecrets {
    /// The plaintext app secret of `app`.
    pub async fn secret(&self, data_key: &DataKey, app: &WechatApp) -> Result<String, Error> {
        if let Some(secret) = self.cached(&app.encrypted_secret) {
            return Ok(secret);
        }
        let plain = data_key.decrypt(&app.encrypted_secret, &app_secret_context(&app.appid)).await?;
        let secret = String::from_utf8(plain)
            .map_err(|_| Error::Internal(anyhow::anyhow!("app secret of {} is not UTF-8", app.appid)))?;
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(app.encrypted_secret.clone(), (Instant::now(), secret.clone()));
        }
        Ok(secret)
    }

    fn cached(&self, ciphertext: &[u8]) -> Option<String> {
        let cache = self.cache.lock().ok()?;
        cache.get(ciphertext).filter(|(at, _)| at.elapsed() < TTL).map(|(_, s)| s.clone())
    }
}

/// The KMS encryption context binding an app secret to its appid.
pub fn app_secret_context(appid: &str) -> [(&'static str, &str); 2] {
    [("purpose", "wechat-app-secret"), ("appid", appid)]
}

/// The KMS encryption context binding a session key to its user in one mini program.
pub fn session_key_context(id: Openid<'_>) -> [(&'static str, &str); 3] {
    [("purpose", "wechat-session-key"), ("appid", id.appid), ("openid", id.openid)]
}

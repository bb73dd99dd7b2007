//! This container's memory of each mini program's WeChat server access token: the first of the
//! three places a token comes from (then the table, then WeChat's `stable_token`; see
//! [`crate::oauth::server_token`]).

use std::collections::HashMap;
use std::sync::Mutex;

/// Tokens stop being used this long before WeChat would expire them.
pub const MARGIN_SECONDS: i64 = 300;

/// The encryption context a stored server token is sealed under.
pub fn context(appid: &str) -> [(&'static str, &str); 2] {
    [("purpose", "wechat-access-token"), ("appid", appid)]
}

/// The per-container cache: appid -> (token, use until).
#[derive(Default)]
pub struct ServerTokens {
    cache: Mutex<HashMap<String, (String, i64)>>,
}

impl std::fmt::Debug for ServerTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerTokens(..)") // live WeChat credentials: never printed
    }
}

impl ServerTokens {
    /// The token of `appid` while it may still be used.
    pub fn cached(&self, appid: &str, now: i64) -> Option<String> {
        let cache = self.cache.lock().ok()?;
        cache.get(appid).filter(|(_, until)| *until > now).map(|(token, _)| token.clone())
    }

    pub fn remember(&self, appid: &str, token: &str, until: i64) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(appid.to_string(), (token.to_string(), until));
        }
    }

    /// Drops the token of `appid` (WeChat refused it).
    pub fn forget(&self, appid: &str) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.remove(appid);
        }
    }
}

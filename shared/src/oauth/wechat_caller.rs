//! Who is calling a WeChat data endpoint: the bearer token's user, as seen by its mini program.

use crate::App;
use crate::domain::access_claims::AccessClaims;
use crate::domain::client::WechatApp;
use crate::domain::session_keys::StoredSessionKeys;
use crate::domain::user::{Openid, User};
use crate::error::{Error, OAuthError};
use crate::oauth::bearer;
use crate::wechat::api::SessionKey;
use crate::wechat::secrets::session_key_context;

/// The caller of a WeChat endpoint: a user of a mini program.
#[derive(Debug)]
pub struct WechatCaller {
    pub claims: AccessClaims,
    pub app: WechatApp,
    pub user: User,
    pub openid: String,
}

/// The caller behind the request's bearer token. Tokens of clients that are not mini programs,
/// or of users who never logged in through this one, are refused.
pub async fn authenticate(app: &App, token: Option<&str>, now: i64) -> Result<WechatCaller, Error> {
    let claims = bearer::authenticate(app, token, now).await?;
    let (client, user) = tokio::try_join!(app.clients.get(&app.store, &claims.client_id), app.store.user(&claims.sub))?;
    let Some(wechat_app) = client.and_then(|c| c.wechat) else {
        return Err(OAuthError::access_denied("this access token was not issued to a WeChat mini program").into());
    };
    let Some(user) = user else {
        return Err(bearer::invalid(&app.config.issuer).into());
    };
    let Some(openid) = user.openids.get(&wechat_app.appid).cloned() else {
        return Err(OAuthError::access_denied("this user has not logged in through this mini program").into());
    };
    Ok(WechatCaller { claims, app: wechat_app, user, openid })
}

impl WechatCaller {
    /// The caller's openid in the client's mini program.
    pub fn openid(&self) -> Openid<'_> {
        Openid { appid: &self.app.appid, openid: &self.openid }
    }

    /// The caller's stored session keys (ciphertexts), unless none is stored or they expired.
    pub async fn stored_session_keys(&self, app: &App, now: i64) -> Result<Option<StoredSessionKeys>, Error> {
        app.store.session_keys(self.openid(), now).await
    }

    /// One stored session key, decrypted (a KMS call: decrypt only what is needed).
    pub async fn decrypt_session_key(&self, app: &App, ciphertext: &[u8]) -> Result<SessionKey, Error> {
        let plain = app.data_key.decrypt(ciphertext, &session_key_context(self.openid())).await?;
        String::from_utf8(plain).map(SessionKey).map_err(|e| Error::Internal(e.into()))
    }
}

/// `400 invalid_session_key`: the stored session key is missing, expired or stale.
pub fn invalid_session_key() -> Error {
    OAuthError::new(400, "invalid_session_key", "the session key is missing or stale: call wx.login() and log in again")
        .into()
}

//! What we tell a bearer token's client about its user (OpenID Connect Core §5.3): `sub`, the
//! same as the ID token's; `openid`, the user's openid in the token's mini program. What else is
//! shown follows the token's scope, as the user consented to it: `profile` for the username
//! (also as the standard `preferred_username`), the `nickname` and `picture` WeChat's web
//! sign-in gave, and the cross-app `unionid`; `phone` for the phone number (verified by WeChat,
//! so `phone_number_verified`).

use serde::Serialize;

use super::bearer;
use crate::App;
use crate::domain::access_claims::AccessClaims;
use crate::error::Error;
use crate::scope::Scope;

#[derive(Debug, Serialize)]
pub struct UserInfo {
    pub sub: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub openid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unionid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nickname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub picture: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number_verified: Option<bool>,
}

/// The claims about the user of a verified access token; a deleted user's token is
/// `invalid_token`.
pub async fn userinfo(app: &App, claims: &AccessClaims) -> Result<UserInfo, Error> {
    let (user, client) = tokio::try_join!(app.store.user(&claims.sub), app.store.client(&claims.client_id))?;
    let Some(user) = user else {
        return Err(bearer::invalid(&app.config.issuer).into());
    };
    let appid = client.and_then(|c| c.wechat).map(|w| w.appid);
    let scope = Scope::parse(&claims.scope).unwrap_or_default();
    let profile = scope.contains("profile");
    let username = user.username.clone().filter(|_| profile);
    let phone_number = user.phone.as_ref().map(|p| p.phone_number.clone()).filter(|_| scope.contains("phone"));
    Ok(UserInfo {
        sub: user.id.clone(),
        openid: appid.and_then(|a| user.openids.get(&a).cloned()),
        unionid: user.unionid.clone().filter(|_| profile),
        preferred_username: username.clone(),
        username,
        nickname: user.nickname.clone().filter(|_| profile),
        picture: user.picture.clone().filter(|_| profile),
        phone_number_verified: phone_number.as_ref().map(|_| true),
        phone_number,
    })
}

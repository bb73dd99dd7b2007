//! `urn:wxauth:grant-type:wechat-code`: a mini program's `wx.login()` code for tokens.
//!
//! The code goes to WeChat's `jscode2session` with the client's appid and app secret (held here,
//! never in the mini program). The user is found or created from the openid (linked by unionid),
//! the session key is stored sealed by the data key (envelope encryption under KMS), and an access token plus a new refresh-token family
//! are issued. WeChat's codes are single use on WeChat's side: a replay is answered by WeChat
//! with 40163 and becomes `invalid_grant` here.

use super::{TokenResponse, user_tokens};
use crate::App;
use crate::domain::client::Client;
use crate::domain::session_keys::NewSessionKey;
use crate::domain::user::WechatIdentity;
use crate::error::{Error, OAuthError};
use crate::params::Params;
use crate::scope::Scope;
use crate::tokens::id::Authentication;
use crate::tokens::refresh;
use crate::wechat::api::{WechatError, plausible_code};
use crate::wechat::errcode;
use crate::wechat::secrets::session_key_context;

pub const GRANT_TYPE: &str = crate::grant_type::WECHAT_CODE;
pub const PARAMETERS: &[&str] = &["code", "scope"];

pub async fn grant(app: &App, client: &Client, params: &Params, now: i64) -> Result<TokenResponse, Error> {
    let Some(wechat_app) = &client.wechat else {
        return Err(OAuthError::unauthorized_client("this client is not a WeChat mini program").into());
    };
    let code = params.require("code")?;
    if !plausible_code(code) {
        return Err(OAuthError::invalid_grant("the code is not a WeChat login code").into());
    }
    let scope = Scope::grant(params.get("scope"), &client.scope)?;
    let secret = app.app_secrets.secret(&app.data_key, wechat_app).await?;
    let session = app.wechat.jscode2session(&wechat_app.appid, &secret, code).await.map_err(to_error)?;
    let identity = WechatIdentity {
        appid: wechat_app.appid.clone(),
        openid: session.openid.clone(),
        unionid: session.unionid.clone(),
    };
    let user_id = app.store.wechat_user(&identity, now).await?;

    let store_session_key = async {
        let context = session_key_context(identity.openid());
        let ciphertext = app.data_key.encrypt(session.session_key.0.as_bytes(), &context).await?;
        let new = NewSessionKey {
            ciphertext,
            previous_until: now + app.config.previous_session_key_ttl.as_secs() as i64,
            expires_at: now + app.config.session_key_ttl.as_secs() as i64,
        };
        app.store.put_session_key(identity.openid(), &new, now).await
    };
    // The refresh-token family is created only once the tokens are signed: a KMS failure
    // must not leave a family behind that nobody received.
    let authentication = Authentication::now(now, None);
    let signed = user_tokens(app, client, &user_id, &scope, &authentication, now);
    let ((access, id_token), ()) = tokio::try_join!(signed, store_session_key)?;
    let refresh = refresh::issue(app, client, &user_id, &scope, &authentication, now).await?;
    Ok(TokenResponse {
        id_token,
        openid: Some(session.openid),
        unionid: session.unionid,
        ..TokenResponse::new(app, access, refresh.map(|r| r.token), &scope)
    })
}

/// WeChat's answer as the client sees it (API.md, token endpoint rules): a bad code is the
/// client's `invalid_grant`, a high-risk user `access_denied`; the rest as for every WeChat call
/// ([`WechatError::into_error`]: busy or down 503, minute quota 429, anything else 502).
pub fn to_error(e: WechatError) -> Error {
    match e {
        WechatError::Api { errcode: errcode::INVALID_CODE, .. } => {
            OAuthError::invalid_grant("the WeChat login code is invalid or expired").into()
        }
        WechatError::Api { errcode: errcode::CODE_BEEN_USED, .. } => {
            OAuthError::invalid_grant("the WeChat login code has been used").into()
        }
        WechatError::Api { errcode: errcode::HIGH_RISK_USER, .. } => {
            OAuthError::access_denied("WeChat refused this user (high-risk account)").into()
        }
        e => e.into_error("jscode2session"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(errcode: i64) -> Error {
        to_error(WechatError::Api { errcode, errmsg: "x".into() })
    }

    fn shown(e: Error) -> OAuthError {
        e.to_oauth()
    }

    #[test]
    fn invalid_and_used_codes_are_invalid_grant() {
        for code in [40029, 40163] {
            let e = shown(api(code));
            assert_eq!((e.status, e.error), (400, "invalid_grant"), "{code}");
        }
    }

    #[test]
    fn the_minute_quota_is_429_with_retry_after() {
        let e = shown(api(45011));
        assert_eq!((e.status, e.error, e.retry_after), (429, "temporarily_unavailable", Some(60)));
    }

    #[test]
    fn a_high_risk_user_is_access_denied() {
        let e = shown(api(40226));
        assert_eq!((e.status, e.error), (403, "access_denied"));
    }

    #[test]
    fn busy_and_unreachable_are_503() {
        assert_eq!(shown(api(-1)).status, 503);
        assert_eq!(shown(to_error(WechatError::Unreachable("timeout".into()))).status, 503);
    }

    #[test]
    fn configuration_errors_and_nonsense_are_502() {
        assert_eq!(shown(api(40125)).status, 502);
        assert_eq!(shown(api(40013)).status, 502);
        assert_eq!(shown(to_error(WechatError::Malformed("x".into()))).status, 502);
    }
}

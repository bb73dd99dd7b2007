//! WeChat's web authorization, server side: the code a browser brings back from WeChat's
//! authorization page (an Official Account's or a website app's QR page) exchanged for the
//! user's openid (`/sns/oauth2/access_token`), and their profile (`/sns/userinfo`).
//!
//! WeChat's access token for the user is used for `/sns/userinfo` at once and then dropped: it
//! is never stored, logged or sent on.

use std::fmt;

use serde::Deserialize;

use super::api::{WechatClient, WechatError, check, observe, retry_once};

/// What `/sns/oauth2/access_token` returns.
#[derive(Clone, PartialEq, Eq)]
pub struct WebGrant {
    pub openid: String,
    /// Only with `snsapi_userinfo` / `snsapi_login`, and only for apps bound to an open
    /// platform account.
    pub unionid: Option<String>,
    /// A snapshot-mode virtual user (`is_snapshotuser: 1`): its openid is not the person's.
    pub snapshot: bool,
    access_token: String,
}

impl fmt::Debug for WebGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WebGrant(.., unionid: {}, snapshot: {})", self.unionid.is_some(), self.snapshot)
    }
}

/// What `/sns/userinfo` returns that wxauth keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebProfile {
    pub unionid: Option<String>,
    pub nickname: Option<String>,
    /// `headimgurl`.
    pub picture: Option<String>,
}

#[derive(Deserialize)]
struct AccessTokenBody {
    #[serde(default)]
    errcode: i64,
    #[serde(default)]
    errmsg: String,
    access_token: Option<String>,
    openid: Option<String>,
    unionid: Option<String>,
    #[serde(default)]
    is_snapshotuser: i64,
}

#[derive(Deserialize)]
struct UserinfoBody {
    #[serde(default)]
    errcode: i64,
    #[serde(default)]
    errmsg: String,
    unionid: Option<String>,
    nickname: Option<String>,
    headimgurl: Option<String>,
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

/// `GET /sns/oauth2/access_token`: the web authorization `code` of `appid` for the user's
/// openid. Retried once when WeChat is busy (-1) or unreachable before connecting: the code was
/// not consumed then.
pub async fn access_token(
    wechat: &WechatClient,
    appid: &str,
    secret: &str,
    code: &str,
) -> Result<WebGrant, WechatError> {
    let request = || {
        wechat.http.get(format!("{}/sns/oauth2/access_token", wechat.base)).query(&[
            ("appid", appid),
            ("secret", secret),
            ("code", code),
            ("grant_type", "authorization_code"),
        ])
    };
    // The errcode is checked inside the retry: WeChat's -1 comes in a 200 answer.
    let once = || async {
        let body: AccessTokenBody = wechat.call(request()).await?;
        check(body.errcode, body.errmsg)?;
        match (non_empty(body.openid), non_empty(body.access_token)) {
            (Some(openid), Some(access_token)) => Ok(WebGrant {
                openid,
                unionid: non_empty(body.unionid),
                snapshot: body.is_snapshotuser == 1,
                access_token,
            }),
            _ => Err(WechatError::Malformed("sns/oauth2/access_token without openid or access_token".into())),
        }
    };
    observe("sns_oauth2_access_token", retry_once(once).await)
}

/// `GET /sns/userinfo` with the token of `grant` (scopes `snsapi_userinfo`, `snsapi_login`).
pub async fn userinfo(wechat: &WechatClient, grant: &WebGrant) -> Result<WebProfile, WechatError> {
    let request = || {
        wechat.http.get(format!("{}/sns/userinfo", wechat.base)).query(&[
            ("access_token", grant.access_token.as_str()),
            ("openid", grant.openid.as_str()),
            ("lang", "zh_CN"),
        ])
    };
    let once = || async {
        let body: UserinfoBody = wechat.call(request()).await?;
        check(body.errcode, body.errmsg)?;
        Ok(WebProfile {
            unionid: non_empty(body.unionid),
            nickname: non_empty(body.nickname),
            picture: non_empty(body.headimgurl),
        })
    };
    observe("sns_userinfo", retry_once(once).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_users_wechat_token_is_never_printed() {
        let grant =
            WebGrant { openid: "o".into(), unionid: None, snapshot: false, access_token: "SECRET-TOKEN".into() };
        assert!(!format!("{grant:?}").contains("SECRET"));
    }
}

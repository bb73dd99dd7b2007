//! Users and the WeChat identities that lead to them.

use std::collections::HashMap;

/// A WeChat identity as `jscode2session` returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WechatIdentity {
    pub appid: String,
    pub openid: String,
    pub unionid: Option<String>,
}

impl WechatIdentity {
    /// The (appid, openid) pair this identity's openid is scoped by.
    pub fn openid(&self) -> Openid<'_> {
        Openid { appid: &self.appid, openid: &self.openid }
    }
}

/// An openid with the WeChat app it belongs to: WeChat scopes every openid by its app, so the
/// two always travel together (and are never mixed up as two strings side by side).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Openid<'a> {
    pub appid: &'a str,
    pub openid: &'a str,
}

/// A user record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    /// appid -> openid
    pub openids: HashMap<String, String>,
    pub unionid: Option<String>,
    /// Password users only.
    pub username: Option<String>,
    pub phone: Option<Phone>,
    /// From WeChat's web sign-in (`/sns/userinfo`): the `nickname` and `picture` claims.
    pub nickname: Option<String>,
    pub picture: Option<String>,
    pub created_at: i64,
}

/// A phone number as WeChat verified it.
#[derive(Clone, PartialEq, Eq)]
pub struct Phone {
    /// With the country code for numbers outside mainland China (WeChat's `phoneNumber`).
    pub phone_number: String,
    pub pure_phone_number: String,
    pub country_code: String,
}

impl std::fmt::Debug for Phone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Phone(..)") // personal data: never in a log line
    }
}

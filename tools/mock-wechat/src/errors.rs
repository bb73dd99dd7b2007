//! WeChat's error codes and their `errmsg` texts: the one place the mock
//! names an error number.
//!
//! Every WeChat route answers an error with HTTP 200 and
//! `{"errcode": N, "errmsg": "<text>, rid: <hex>"}` (built by
//! [`crate::routes`]); the texts below are WeChat's, byte for byte (45011's
//! double spaces included). Codes named by the `err-<errcode>` convention
//! that have no text here answer `mock error`.
//!
//! The sign-in pages ([`crate::web_authorize`]) answer their errors (the
//! 100xx codes below) as an HTML page showing the number and the text.

/// A WeChat error, by its `errcode`; [`WxError::errmsg`] gives WeChat's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WxError(pub i64);

impl WxError {
    /// WeChat is busy: the caller may retry (`busy-<name>` answers it once).
    pub const SYSTEM_ERROR: Self = Self(-1);
    /// An access token unknown, or superseded by a newer one.
    pub const INVALID_CREDENTIAL: Self = Self(40001);
    pub const INVALID_GRANT_TYPE: Self = Self(40002);
    /// A user access token's `openid` is not the one asked about.
    pub const INVALID_OPENID: Self = Self(40003);
    /// Not a web app's appid (`/sns/oauth2/*`).
    pub const INVALID_APPID: Self = Self(40013);
    pub const INVALID_CODE: Self = Self(40029);
    pub const INVALID_REFRESH_TOKEN: Self = Self(40030);
    pub const INVALID_APPSECRET: Self = Self(40125);
    pub const CODE_BEEN_USED: Self = Self(40163);
    /// `jscode2session` refuses a user WeChat judges risky.
    pub const HIGH_RISK_USER: Self = Self(40226);
    pub const ACCESS_TOKEN_MISSING: Self = Self(41001);
    pub const APPID_MISSING: Self = Self(41002);
    pub const REFRESH_TOKEN_MISSING: Self = Self(41003);
    pub const APPSECRET_MISSING: Self = Self(41004);
    pub const MISSING_CODE: Self = Self(41008);
    pub const ACCESS_TOKEN_EXPIRED: Self = Self(42001);
    pub const REFRESH_TOKEN_EXPIRED: Self = Self(42002);
    /// A web sign-in code past its 5 minutes (`jscode2session` says 40029 instead).
    pub const CODE_EXPIRED: Self = Self(42003);
    /// Rate limited for the rest of the minute.
    pub const MINUTE_QUOTA_REACHED: Self = Self(45011);
    /// A JSON body that is not an object, or a field of the wrong type.
    pub const DATA_FORMAT_ERROR: Self = Self(47001);
    /// `/sns/userinfo` with a token of scope `snsapi_base`.
    pub const API_UNAUTHORIZED: Self = Self(48001);
    pub const INVALID_SIGNATURE: Self = Self(87009);
    /// `getwxacodeunlimit`: a `scene` that is missing, empty, too long or of
    /// other characters.
    pub const INVALID_SCENE: Self = Self(40169);
    /// `getwxacodeunlimit`: an argument out of range (`env_version`, `width`).
    pub const INVALID_ARGS: Self = Self(40097);
    /// `getwxacodeunlimit`: `page` is not a page of the released version (or
    /// has a leading `/`).
    pub const INVALID_PAGE: Self = Self(41030);
    /// An API's quota or rate limit (`getwxacodeunlimit`'s: 5,000 calls a
    /// minute).
    pub const RATE_LIMITED: Self = Self(45009);

    // The sign-in pages' errors (an HTML page, see `crate::web_authorize`).
    /// The `redirect_uri`'s host is not the app's domain.
    pub const REDIRECT_URI_MISMATCH: Self = Self(10003);
    /// A scope the page does not offer, and (the mock's choice, as WeChat
    /// shows for a wrong or other platform's appid) an appid that is not a
    /// web app of the page's kind.
    pub const SCOPE_UNAUTHORIZED: Self = Self(10005);
    pub const SCOPE_MISSING: Self = Self(10010);
    pub const REDIRECT_URI_MISSING: Self = Self(10011);
    pub const PAGE_APPID_MISSING: Self = Self(10012);
    /// WeChat's code for `state` (its text says "empty"); the mock answers it
    /// for a `state` longer than 128 or not `[A-Za-z0-9]*`.
    pub const STATE_INVALID: Self = Self(10013);
    /// The mock's choice for `response_type` other than `code` (WeChat's own
    /// answer is unconfirmed; 10014 is a gap in its published list).
    pub const RESPONSE_TYPE_INVALID: Self = Self(10014);
    /// A website app's appid on the Official Account page.
    pub const OPEN_PLATFORM_APPID: Self = Self(10016);

    /// WeChat's `errmsg` for this code (without the `, rid: …` suffix), or
    /// `"mock error"` for codes the mock has no text for.
    pub fn errmsg(self) -> &'static str {
        match self {
            Self::SYSTEM_ERROR => "system error",
            Self::INVALID_CREDENTIAL => "invalid credential, access_token is invalid or not latest",
            Self::INVALID_GRANT_TYPE => "invalid grant_type",
            Self::INVALID_OPENID => "invalid openid",
            Self::INVALID_APPID => "invalid appid",
            Self::INVALID_CODE => "invalid code",
            Self::INVALID_REFRESH_TOKEN => "invalid refresh_token",
            Self::INVALID_APPSECRET => "invalid appsecret",
            Self::CODE_BEEN_USED => "code been used",
            Self::HIGH_RISK_USER => "high risk user",
            Self::ACCESS_TOKEN_MISSING => "access_token missing",
            Self::APPID_MISSING => "appid missing",
            Self::REFRESH_TOKEN_MISSING => "refresh_token missing",
            Self::APPSECRET_MISSING => "appsecret missing",
            Self::MISSING_CODE => "missing code",
            Self::ACCESS_TOKEN_EXPIRED => "access_token expired",
            Self::REFRESH_TOKEN_EXPIRED => "refresh_token expired",
            Self::CODE_EXPIRED => "code expired",
            Self::MINUTE_QUOTA_REACHED => "api minute-quota reach limit  mustslower  retry next minute",
            Self::DATA_FORMAT_ERROR => "data format error",
            Self::API_UNAUTHORIZED => "api unauthorized",
            Self::INVALID_SIGNATURE => "invalid signature",
            Self::INVALID_SCENE => "invalid length for scene, or the data is not json string",
            Self::INVALID_ARGS => "invalid args",
            Self::INVALID_PAGE => "invalid page",
            Self::RATE_LIMITED => "reach max api daily quota limit",
            Self::REDIRECT_URI_MISMATCH => "redirect_uri 参数错误",
            Self::SCOPE_UNAUTHORIZED => "Scope 参数错误或没有 Scope 权限",
            Self::SCOPE_MISSING => "scope不能为空",
            Self::REDIRECT_URI_MISSING => "redirect_uri不能为空",
            Self::PAGE_APPID_MISSING => "appid不能为空",
            Self::STATE_INVALID => "state 参数错误",
            Self::RESPONSE_TYPE_INVALID => "response_type 参数错误",
            Self::OPEN_PLATFORM_APPID => "不支持微信开放平台的Appid，请使用公众号Appid",
            _ => "mock error",
        }
    }

    /// The `err-<errcode>` code convention, shared by login and phone codes:
    /// that error, every time, for any non-zero integer (`err--1` is -1).
    /// `None` for any other code, `err-0` and `err-x` included.
    pub(crate) fn named_by_code(code: &str) -> Option<Self> {
        let errcode = code.strip_prefix("err-")?.parse::<i64>().ok()?;
        (errcode != 0).then_some(Self(errcode))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn err_convention_names_any_nonzero_code() {
        assert_eq!(WxError::named_by_code("err-40226"), Some(WxError::HIGH_RISK_USER));
        assert_eq!(WxError::named_by_code("err--1"), Some(WxError::SYSTEM_ERROR));
        assert_eq!(WxError::named_by_code("err-12345").map(WxError::errmsg), Some("mock error"));
        for code in ["err-", "err-0", "err-x", "err-1.5", "ok-alice", "phone-1"] {
            assert_eq!(WxError::named_by_code(code), None, "{code}");
        }
    }
}

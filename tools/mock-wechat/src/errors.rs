//! WeChat's error codes and their `errmsg` texts: the one place the mock
//! names an error number.
//!
//! Every WeChat route answers an error with HTTP 200 and
//! `{"errcode": N, "errmsg": "<text>, rid: <hex>"}` (built by
//! [`crate::routes`]); the texts below are WeChat's, byte for byte (45011's
//! double spaces included). Codes named by the `err-<errcode>` convention
//! that have no text here answer `mock error`.

/// A WeChat error, by its `errcode`; [`WxError::errmsg`] gives WeChat's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WxError(pub i64);

impl WxError {
    /// WeChat is busy: the caller may retry (`busy-<name>` answers it once).
    pub const SYSTEM_ERROR: Self = Self(-1);
    /// An access token unknown, or superseded by a newer one.
    pub const INVALID_CREDENTIAL: Self = Self(40001);
    pub const INVALID_GRANT_TYPE: Self = Self(40002);
    pub const INVALID_CODE: Self = Self(40029);
    pub const INVALID_APPSECRET: Self = Self(40125);
    pub const CODE_BEEN_USED: Self = Self(40163);
    /// `jscode2session` refuses a user WeChat judges risky.
    pub const HIGH_RISK_USER: Self = Self(40226);
    pub const ACCESS_TOKEN_MISSING: Self = Self(41001);
    pub const APPID_MISSING: Self = Self(41002);
    pub const APPSECRET_MISSING: Self = Self(41004);
    pub const MISSING_CODE: Self = Self(41008);
    pub const ACCESS_TOKEN_EXPIRED: Self = Self(42001);
    /// Rate limited for the rest of the minute.
    pub const MINUTE_QUOTA_REACHED: Self = Self(45011);
    /// A JSON body that is not an object, or a field of the wrong type.
    pub const DATA_FORMAT_ERROR: Self = Self(47001);
    pub const INVALID_SIGNATURE: Self = Self(87009);

    /// WeChat's `errmsg` for this code (without the `, rid: …` suffix), or
    /// `"mock error"` for codes the mock has no text for.
    pub fn errmsg(self) -> &'static str {
        match self {
            Self::SYSTEM_ERROR => "system error",
            Self::INVALID_CREDENTIAL => "invalid credential, access_token is invalid or not latest",
            Self::INVALID_GRANT_TYPE => "invalid grant_type",
            Self::INVALID_CODE => "invalid code",
            Self::INVALID_APPSECRET => "invalid appsecret",
            Self::CODE_BEEN_USED => "code been used",
            Self::HIGH_RISK_USER => "high risk user",
            Self::ACCESS_TOKEN_MISSING => "access_token missing",
            Self::APPID_MISSING => "appid missing",
            Self::APPSECRET_MISSING => "appsecret missing",
            Self::MISSING_CODE => "missing code",
            Self::ACCESS_TOKEN_EXPIRED => "access_token expired",
            Self::MINUTE_QUOTA_REACHED => "api minute-quota reach limit  mustslower  retry next minute",
            Self::DATA_FORMAT_ERROR => "data format error",
            Self::INVALID_SIGNATURE => "invalid signature",
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

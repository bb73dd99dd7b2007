//! Access tokens, shared by every WeChat API that takes an `access_token`
//! query parameter (`getuserphonenumber`, `checksession`,
//! `getwxacodeunlimit`): issued by [`crate::stable_token`], resolved to their
//! appid here, made expired or invalid by the control routes.
//!
//! Missing `access_token` → 41001 `access_token missing`; unknown or
//! superseded → 40001 `invalid credential, access_token is invalid or not
//! latest`; expired → 42001 `access_token expired`. A token acts for the
//! appid it was issued to, and lives [`ACCESS_TOKEN_TTL_S`] seconds.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::errors::WxError;
use crate::state::{Api, Mock, present};

/// Lifetime of an access token, in seconds (WeChat's `expires_in`).
pub const ACCESS_TOKEN_TTL_S: u64 = 7200;
pub(crate) const ACCESS_TOKEN_TTL_MS: u64 = ACCESS_TOKEN_TTL_S * 1000;

/// Every access token ever issued, and each app's current one.
#[derive(Debug, Default)]
pub(crate) struct AccessTokens {
    /// Current access token, by appid.
    current: HashMap<String, String>,
    /// Every access token ever issued.
    records: HashMap<String, TokenRecord>,
}

#[derive(Debug)]
struct TokenRecord {
    appid: String,
    expires_ms: u64,
    revoked: bool,
}

impl Mock {
    /// `appid`'s current token and its expiry (Unix ms), unless it is
    /// revoked or expired.
    pub(crate) fn current_token(&self, appid: &str, now_ms: u64) -> Option<(String, u64)> {
        let token = self.tokens.current.get(appid)?;
        let record = self.tokens.records.get(token)?;
        (!record.revoked && now_ms < record.expires_ms).then(|| (token.clone(), record.expires_ms))
    }

    /// Issues a new token for `appid`, valid [`ACCESS_TOKEN_TTL_S`]; it
    /// becomes the app's current one.
    pub(crate) fn issue_token(&mut self, appid: &str, now_ms: u64) -> String {
        let mut bytes = self.random_block().to_vec();
        bytes.extend_from_slice(&self.random_block());
        let token = format!("mock_{}", URL_SAFE_NO_PAD.encode(bytes));
        let record = TokenRecord {
            appid: appid.to_owned(),
            expires_ms: now_ms.saturating_add(ACCESS_TOKEN_TTL_MS),
            revoked: false,
        };
        self.tokens.records.insert(token.clone(), record);
        self.tokens.current.insert(appid.to_owned(), token.clone());
        token
    }

    /// Resolves an `access_token` query parameter to its appid, counting the
    /// call for that appid whenever the token is known (even if unusable).
    pub fn resolve_token(&mut self, token: Option<&str>, api: Api, now_ms: u64) -> Result<String, WxError> {
        let token = present(token).ok_or(WxError::ACCESS_TOKEN_MISSING)?;
        let record = self.tokens.records.get(token).ok_or(WxError::INVALID_CREDENTIAL)?;
        let (appid, revoked, expired) = (record.appid.clone(), record.revoked, now_ms >= record.expires_ms);
        self.count(&appid, api);
        if revoked {
            Err(WxError::INVALID_CREDENTIAL)
        } else if expired {
            Err(WxError::ACCESS_TOKEN_EXPIRED)
        } else {
            Ok(appid)
        }
    }

    /// Makes `appid`'s current access token expired (42001); the next
    /// `stable_token` issues a new one. False if it has none.
    pub fn expire_token(&mut self, appid: &str, now_ms: u64) -> bool {
        let record = self.tokens.current.get(appid).and_then(|token| self.tokens.records.get_mut(token));
        match record {
            Some(record) => {
                record.expires_ms = record.expires_ms.min(now_ms);
                true
            }
            None => false,
        }
    }

    /// Makes `appid`'s current access token invalid (40001), as if another
    /// party had force-refreshed it; the next `stable_token` issues a new one.
    /// False if it has none.
    pub fn invalidate_token(&mut self, appid: &str) -> bool {
        let record = self.tokens.current.remove(appid).and_then(|token| self.tokens.records.get_mut(&token));
        match record {
            Some(record) => {
                record.revoked = true;
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{T0, mock, token};

    #[test]
    fn token_resolution_errors() {
        let mut m = mock();
        assert_eq!(m.resolve_token(None, Api::CheckSession, T0), Err(WxError::ACCESS_TOKEN_MISSING));
        assert_eq!(m.resolve_token(Some(""), Api::CheckSession, T0), Err(WxError::ACCESS_TOKEN_MISSING));
        assert_eq!(m.resolve_token(Some("bogus"), Api::CheckSession, T0), Err(WxError::INVALID_CREDENTIAL));
        assert_eq!(WxError::INVALID_CREDENTIAL.errmsg(), "invalid credential, access_token is invalid or not latest");
        assert_eq!(WxError::ACCESS_TOKEN_EXPIRED.errmsg(), "access_token expired");

        let t = token(&mut m, "wxa", T0);
        assert_eq!(m.resolve_token(Some(&t), Api::CheckSession, T0 + ACCESS_TOKEN_TTL_MS - 1), Ok("wxa".into()));
        assert_eq!(
            m.resolve_token(Some(&t), Api::CheckSession, T0 + ACCESS_TOKEN_TTL_MS),
            Err(WxError::ACCESS_TOKEN_EXPIRED)
        );
    }

    #[test]
    fn control_expire_and_invalidate() {
        let mut m = mock();
        assert!(!m.expire_token("wxa", T0));
        assert!(!m.invalidate_token("wxa"));

        let t1 = token(&mut m, "wxa", T0);
        assert!(m.expire_token("wxa", T0 + 10));
        assert_eq!(m.resolve_token(Some(&t1), Api::GetUserPhoneNumber, T0 + 10), Err(WxError::ACCESS_TOKEN_EXPIRED));
        let t2 = token(&mut m, "wxa", T0 + 20);
        assert_ne!(t1, t2);

        assert!(m.invalidate_token("wxa"));
        assert_eq!(m.resolve_token(Some(&t2), Api::GetUserPhoneNumber, T0 + 30), Err(WxError::INVALID_CREDENTIAL));
        let t3 = token(&mut m, "wxa", T0 + 40);
        assert!(t3 != t2 && t3 != t1);
        assert_eq!(m.resolve_token(Some(&t3), Api::GetUserPhoneNumber, T0 + 40), Ok("wxa".into()));
    }
}

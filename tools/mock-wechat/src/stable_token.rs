//! The server's access token: `POST /cgi-bin/stable_token`.
//!
//! Body `{"grant_type": "client_credential", "appid", "secret", "force_refresh": bool?}`
//! → `{"access_token": "<random>", "expires_in": 7200}`: the token every API
//! taking `access_token` needs (see [`crate::tokens`]).
//!
//! Without `force_refresh` the same token is returned until it expires,
//! with the remaining `expires_in` (rounded up to whole seconds); once
//! expired a new one is issued. `force_refresh: true` always issues a new
//! token and the old one becomes invalid (40001). Errors: body not a JSON
//! object, or a field of the wrong type → 47001 `data format error`;
//! missing `appid` → 41002, missing `secret` → 41004, `grant_type` other
//! than `client_credential` → 40002, a secret other than the registered one
//! → 40125, as for [`crate::jscode2session`]. WeChat documents more (40013
//! invalid appid, 40164 caller IP not allow-listed, rate limits) that the
//! mock never answers: this API has no `err-<n>` convention.

use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use serde::Serialize;
use serde_json::Value;

use crate::errors::WxError;
use crate::routes::{AppState, answer, json_object, string_field};
use crate::state::{Api, Mock, present};
use crate::tokens::ACCESS_TOKEN_TTL_S;

pub const PATH: &str = "/cgi-bin/stable_token";

/// Body of `POST /cgi-bin/stable_token`.
#[derive(Debug, Default, Clone)]
pub struct StableTokenRequest {
    pub grant_type: Option<String>,
    pub appid: Option<String>,
    pub secret: Option<String>,
    pub force_refresh: bool,
}

/// A successful `stable_token` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessToken {
    pub access_token: String,
    pub expires_in: u64,
}

impl Mock {
    /// `POST /cgi-bin/stable_token`. Counts the call when an appid is given.
    pub fn stable_token(&mut self, req: &StableTokenRequest, now_ms: u64) -> Result<AccessToken, WxError> {
        let appid = present(req.appid.as_deref()).ok_or(WxError::APPID_MISSING)?;
        self.count(appid, Api::StableToken);
        let secret = present(req.secret.as_deref()).ok_or(WxError::APPSECRET_MISSING)?;
        if req.grant_type.as_deref() != Some("client_credential") {
            return Err(WxError::INVALID_GRANT_TYPE);
        }
        self.check_secret(appid, secret)?;

        if let Some((token, expires_ms)) = self.current_token(appid, now_ms) {
            if !req.force_refresh {
                let expires_in = (expires_ms - now_ms).div_ceil(1000);
                return Ok(AccessToken { access_token: token, expires_in });
            }
            self.invalidate_token(appid);
        }
        let access_token = self.issue_token(appid, now_ms);
        Ok(AccessToken { access_token, expires_in: ACCESS_TOKEN_TTL_S })
    }
}

pub(crate) async fn handle(State(state): State<AppState>, body: Bytes) -> Response {
    answer(&state, |mock, now| {
        let object = json_object(&body)?;
        let force_refresh = match object.get("force_refresh") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(force)) => *force,
            Some(_) => return Err(WxError::DATA_FORMAT_ERROR),
        };
        let req = StableTokenRequest {
            grant_type: string_field(&object, "grant_type")?,
            appid: string_field(&object, "appid")?,
            secret: string_field(&object, "secret")?,
            force_refresh,
        };
        mock.stable_token(&req, now)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{T0, mock, token, token_req};
    use crate::tokens::ACCESS_TOKEN_TTL_MS;

    #[test]
    fn stable_token_is_stable_and_counts_down() {
        let mut m = mock();
        let first = m.stable_token(&token_req("wxa", "s", false), T0);
        let Ok(first) = first else { panic!("{first:?}") };
        assert_eq!(first.expires_in, 7200);
        assert!(first.access_token.len() > 64);
        let later = m.stable_token(&token_req("wxa", "s", false), T0 + 100_500);
        assert_eq!(later, Ok(AccessToken { access_token: first.access_token.clone(), expires_in: 7100 }));
        // Other apps get their own token.
        assert_ne!(token(&mut m, "wxb", T0), first.access_token);
        // After it expires, a new one is issued; the old one answers 42001.
        let expiry = T0 + ACCESS_TOKEN_TTL_MS;
        let renewed = m.stable_token(&token_req("wxa", "s", false), expiry);
        assert!(renewed.as_ref().is_ok_and(|t| t.access_token != first.access_token && t.expires_in == 7200));
        let old = m.resolve_token(Some(&first.access_token), Api::GetUserPhoneNumber, expiry);
        assert_eq!(old, Err(WxError::ACCESS_TOKEN_EXPIRED));
    }

    #[test]
    fn force_refresh_issues_a_new_token_and_revokes_the_old() {
        let mut m = mock();
        let old = token(&mut m, "wxa", T0);
        let new = m.stable_token(&token_req("wxa", "s", true), T0 + 1000).map(|t| (t.access_token, t.expires_in));
        let Ok((new, 7200)) = new else { panic!("{new:?}") };
        assert_ne!(new, old);
        assert_eq!(m.resolve_token(Some(&old), Api::CheckSession, T0 + 2000), Err(WxError::INVALID_CREDENTIAL));
        assert_eq!(m.resolve_token(Some(&new), Api::CheckSession, T0 + 2000), Ok("wxa".into()));
        assert_eq!(token(&mut m, "wxa", T0 + 3000), new);
    }

    #[test]
    fn stable_token_errors() {
        let mut m = mock();
        m.register_app("wxreg", "right");
        let full = token_req("wxreg", "right", false);
        let cases = [
            (StableTokenRequest { appid: None, ..full.clone() }, WxError::APPID_MISSING),
            (StableTokenRequest { secret: None, ..full.clone() }, WxError::APPSECRET_MISSING),
            (StableTokenRequest { grant_type: None, ..full.clone() }, WxError::INVALID_GRANT_TYPE),
            (
                StableTokenRequest { grant_type: Some("authorization_code".into()), ..full.clone() },
                WxError::INVALID_GRANT_TYPE,
            ),
            (StableTokenRequest { secret: Some("wrong".into()), ..full.clone() }, WxError::INVALID_APPSECRET),
        ];
        for (req, err) in cases {
            assert_eq!(m.stable_token(&req, T0), Err(err));
        }
        assert!(m.stable_token(&full, T0).is_ok());
    }
}

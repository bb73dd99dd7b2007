//! Is a session key still current: `GET /wxa/checksession?access_token=&signature=&openid=&sig_method=hmac_sha256`.
//!
//! WeChat checks `signature`, the user's login-state signature of the empty
//! message: lowercase hex HMAC-SHA256 with key = the session key's base64
//! *text* (as bytes). Its documented error: 87009 `invalid signature`.
//!
//! The mock first resolves `access_token` ([`crate::tokens`]: 41001, 40001,
//! 42001), then answers `{"errcode":0,"errmsg":"ok"}` when `signature` is
//! that HMAC for the latest session key [`crate::jscode2session`] issued to
//! `openid` under the token's appid (hex compared case-insensitively).
//! Anything else (other key, unknown openid, `sig_method` not
//! `hmac_sha256`, missing signature) → 87009 `invalid signature`.

use axum::extract::{RawQuery, State};
use axum::response::Response;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use crate::errors::WxError;
use crate::routes::{AppState, answer, query_params};
use crate::state::{Api, Mock, present};

pub const PATH: &str = "/wxa/checksession";

/// WeChat's user login-state signature: lowercase hex of
/// HMAC-SHA256(key = the session key's base64 text, message).
/// `checksession` signs the empty message.
pub fn session_signature(session_key: &str, message: &[u8]) -> Option<String> {
    let mut mac = Hmac::<Sha256>::new_from_slice(session_key.as_bytes()).ok()?;
    mac.update(message);
    Some(mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect())
}

impl Mock {
    /// `checksession` for a resolved appid: the signature must be
    /// [`session_signature`] of the empty message under the latest session
    /// key issued to `openid` of `appid` (hex compared case-insensitively).
    pub fn check_session(
        &self,
        appid: &str,
        openid: Option<&str>,
        signature: Option<&str>,
        sig_method: Option<&str>,
    ) -> Result<(), WxError> {
        if sig_method != Some("hmac_sha256") {
            return Err(WxError::INVALID_SIGNATURE);
        }
        let openid = present(openid).ok_or(WxError::INVALID_SIGNATURE)?;
        let signature = present(signature).ok_or(WxError::INVALID_SIGNATURE)?;
        let expected = self.latest_session_key(appid, openid).and_then(|key| session_signature(key, b""));
        match expected {
            Some(expected) if expected.eq_ignore_ascii_case(signature) => Ok(()),
            _ => Err(WxError::INVALID_SIGNATURE),
        }
    }
}

pub(crate) async fn handle(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let params = query_params(query);
    let param = |name: &str| params.get(name).map(String::as_str);
    answer(&state, |mock, now| {
        let appid = mock.resolve_token(param("access_token"), Api::CheckSession, now)?;
        mock.check_session(&appid, param("openid"), param("signature"), param("sig_method"))?;
        Ok(json!({"errcode": 0, "errmsg": "ok"}))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jscode2session::session_key_for;
    use crate::testing::{T0, fixture_session, login, mock};

    #[test]
    fn signature_matches_known_vector() {
        // python3: hmac.new(b'o4Wz8/7+ECEOhZ6XBTOo7A==', b'', hashlib.sha256).hexdigest()
        assert_eq!(
            session_signature("o4Wz8/7+ECEOhZ6XBTOo7A==", b"").as_deref(),
            Some("1c6ee4afbc1babd781b86fc6b59dcdc55fccf459a7214509c3dd532f2bd4f35c")
        );
        // WeChat's documented example (POST body signed).
        assert_eq!(
            session_signature("o0q0otL8aEzpcZL/FT9WsQ==", br#"{"foo":"bar"}"#).as_deref(),
            Some("654571f79995b2ce1e149e53c0a33dc39c0a74090db514261454e8dbe432aa0b")
        );
    }

    #[test]
    fn check_session_uses_latest_session_key() {
        let mut m = mock();
        let sig = |name: &str| session_signature(&session_key_for(name), b"").unwrap_or_default();
        let check = |m: &Mock, appid: &str, openid: &str, signature: &str| {
            m.check_session(appid, Some(openid), Some(signature), Some("hmac_sha256"))
        };

        assert_eq!(check(&m, "wxa", "openid-gus", &sig("gus")), Err(WxError::INVALID_SIGNATURE));
        assert!(m.jscode2session(&login("wxa", "ok-gus"), T0).is_ok());
        assert_eq!(check(&m, "wxa", "openid-gus", &sig("gus")), Ok(()));
        assert_eq!(check(&m, "wxa", "openid-gus", &sig("gus").to_uppercase()), Ok(()));
        assert_eq!(check(&m, "wxa", "openid-gus", "00"), Err(WxError::INVALID_SIGNATURE));
        assert_eq!(check(&m, "wxb", "openid-gus", &sig("gus")), Err(WxError::INVALID_SIGNATURE));
        assert_eq!(
            m.check_session("wxa", Some("openid-gus"), Some(&sig("gus")), Some("md5")),
            Err(WxError::INVALID_SIGNATURE)
        );
        assert_eq!(
            m.check_session("wxa", Some("openid-gus"), None, Some("hmac_sha256")),
            Err(WxError::INVALID_SIGNATURE)
        );

        // A new login replaces the session key: the old signature fails.
        assert!(m.jscode2session(&login("wxa", "ok-gus~2"), T0).is_ok());
        assert_eq!(check(&m, "wxa", "openid-gus", &sig("gus")), Err(WxError::INVALID_SIGNATURE));
        assert_eq!(check(&m, "wxa", "openid-gus", &sig("gus~2")), Ok(()));

        // Known vector through a fixture session key.
        m.add_code("fx", fixture_session("wxa", "o-vec", "o4Wz8/7+ECEOhZ6XBTOo7A==", None), T0);
        assert!(m.jscode2session(&login("wxa", "fx"), T0).is_ok());
        let known = "1c6ee4afbc1babd781b86fc6b59dcdc55fccf459a7214509c3dd532f2bd4f35c";
        assert_eq!(check(&m, "wxa", "o-vec", known), Ok(()));
    }
}

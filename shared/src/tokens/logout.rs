//! Logout tokens (OpenID Connect Back-Channel Logout 1.0 §2.4): `typ: logout+jwt`, signed by
//! the registry's active key like every token, for one relying party (`aud`) and one ended
//! session (`sid`, and its user as `sub`). A fresh one for every delivery attempt: new `jti`,
//! `iat`, and an `exp` two minutes on, so a token that leaked from one attempt is soon worthless.
//! Never a `nonce` (§2.4 forbids it, so that no logout token passes for an ID token).

use serde::{Deserialize, Serialize};

use crate::App;
use crate::domain::logout_notice::LogoutNotice;
use crate::error::Error;
use crate::secret::random_id;

/// The one event of a logout token.
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// The JWS media type (§2.4, RFC 8725 §3.11).
pub const TYP: &str = "logout+jwt";
/// How long a logout token is good for.
pub const LIFETIME_SECONDS: i64 = 120;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogoutClaims {
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    pub sub: String,
    pub sid: String,
    /// `{"http://schemas.openid.net/event/backchannel-logout": {}}`.
    pub events: serde_json::Value,
}

impl LogoutClaims {
    pub fn new(issuer: &str, notice: &LogoutNotice, now: i64) -> Self {
        Self {
            iss: issuer.to_string(),
            aud: notice.client_id.clone(),
            iat: now,
            exp: now + LIFETIME_SECONDS,
            jti: random_id(),
            sub: notice.sub.clone(),
            sid: notice.sid.clone(),
            events: serde_json::json!({ BACKCHANNEL_LOGOUT_EVENT: {} }),
        }
    }
}

/// A logout token for `notice`, signed now.
pub async fn issue(app: &App, notice: &LogoutNotice, now: i64) -> Result<String, Error> {
    super::jws::sign(app, TYP, &LogoutClaims::new(&app.config.issuer, notice, now), now).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_claims_are_the_specs_and_no_nonce() {
        let notice = LogoutNotice { client_id: "web".into(), sub: "u1".into(), sid: "s1".into() };
        let claims = LogoutClaims::new("https://id.example", &notice, 1000);
        let json = serde_json::to_value(&claims).expect("json");
        let mut names: Vec<&str> = json.as_object().expect("object").keys().map(String::as_str).collect();
        names.sort_unstable();
        assert_eq!(names, ["aud", "events", "exp", "iat", "iss", "jti", "sid", "sub"]);
        assert_eq!(json["events"], serde_json::json!({ "http://schemas.openid.net/event/backchannel-logout": {} }));
        assert_eq!((claims.exp - claims.iat, claims.aud.as_str()), (120, "web"));
        assert_ne!(LogoutClaims::new("https://id.example", &notice, 1000).jti, claims.jti, "a new jti each time");
    }
}

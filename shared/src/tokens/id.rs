//! ID tokens (OpenID Connect Core 1.0 §2), issued beside the access token whenever the granted
//! scope contains `openid` and a user signed in: authorization code, the WeChat grant, password,
//! and refresh (§12.2). Signed by the same registry key as access tokens, `typ: JWT`.
//!
//! The claims are the ones the spec requires and the ones it asks for when an access token is
//! issued beside: `auth_time` (the original sign-in, also on refresh), `nonce` (echoed from the
//! authorization request; never on refresh), `azp` and `at_hash`; `sid` and `amr` when the user
//! signed in through a browser session (also on refresh). Profile claims are not in the
//! ID token: with an access token issued, §5.4 has them come from the UserInfo endpoint, which
//! shows them by scope, and a login costs no extra read.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::access::AccessToken;
use crate::App;
use crate::domain::browser_session::SignInMethod;
use crate::domain::client::Client;
use crate::error::Error;
use crate::keys::verify::verify_id_token_hint;
use crate::scope::Scope;

/// The scope that asks for an ID token.
pub const OPENID: &str = "openid";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdClaims {
    pub iss: String,
    /// The same `sub` as the access token's and userinfo's.
    pub sub: String,
    /// The client the token is for.
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// The browser session the sign-in belongs to (Back-Channel Logout 1.0 §2.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// How the user signed in (RFC 8176 names where one fits).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amr: Option<Vec<String>>,
    pub azp: String,
    pub at_hash: String,
}

/// What an `id_token_hint` tells: whom it was issued to and about, and in which session.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct HintClaims {
    pub sub: String,
    pub aud: String,
    #[serde(default)]
    pub sid: Option<String>,
}

/// The claims of `hint` when it is an ID token we issued, expired or not; `None` for anything
/// else (the caller answers all of those the same way).
pub async fn verify_hint(app: &App, hint: &str, now: i64) -> Result<Option<HintClaims>, Error> {
    Ok(verify_id_token_hint(&app.keys, hint, &app.config.issuer, now).await?.ok())
}

/// When and for which request the user authenticated, carried by the grant (a code, a refresh
/// token) to every ID token issued from it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Authentication {
    pub auth_time: Option<i64>,
    pub nonce: Option<String>,
    /// The browser session's `sid`, when the sign-in started or used one.
    pub sid: Option<String>,
    pub method: Option<SignInMethod>,
}

impl Authentication {
    /// A sign-in happening now, outside any browser session (the WeChat and password grants).
    pub fn now(now: i64, method: Option<SignInMethod>) -> Self {
        Self { auth_time: Some(now), nonce: None, sid: None, method }
    }
}

/// The ID token to issue beside `access`, when its scope asks for one.
pub async fn issue(
    app: &App,
    client: &Client,
    access: &AccessToken,
    scope: &Scope,
    authentication: &Authentication,
    now: i64,
) -> Result<Option<String>, Error> {
    if !scope.contains(OPENID) {
        return Ok(None);
    }
    let claims = IdClaims {
        iss: app.config.issuer.clone(),
        sub: access.claims.sub.clone(),
        aud: client.id.clone(),
        exp: now + app.config.access_token_ttl.as_secs() as i64,
        iat: now,
        auth_time: authentication.auth_time,
        nonce: authentication.nonce.clone(),
        sid: authentication.sid.clone(),
        amr: authentication.method.map(|method| vec![method.amr().to_string()]),
        azp: client.id.clone(),
        at_hash: at_hash(&access.jwt),
    };
    super::jws::sign(app, "JWT", &claims, now).await.map(Some)
}

/// OpenID Connect Core §3.1.3.6: the base64url of the left half of the hash of the access
/// token's ASCII, with the hash of the signing algorithm (SHA-256 for RS256 and ES256 alike).
pub fn at_hash(access_token: &str) -> String {
    let digest = Sha256::digest(access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_is_the_left_half_of_sha256() {
        // OpenID Connect Core's own example (appendix A.3/A.4): access token
        // "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y" has at_hash "77QmUPtjPfzWtF2AnpK9RQ".
        assert_eq!(at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"), "77QmUPtjPfzWtF2AnpK9RQ");
    }
}

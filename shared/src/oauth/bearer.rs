//! Protected resources (RFC 6750): the caller's access token, verified locally.
//!
//! The JWT is checked against the cached key registry (signature, `typ`, `iss`, `exp`; no KMS
//! call), then against the deny list (revoked `jti`s). Every failure of a presented token is the
//! same `401 invalid_token` challenge, so a caller learns nothing about why; a request with no
//! token gets the bare challenge RFC 6750 §3.1 asks for.
//! `aud` is not checked here: these endpoints belong to the authorization server itself and
//! serve every client it issued tokens to, whatever resource server those tokens were meant for.

use crate::App;
use crate::domain::access_claims::AccessClaims;
use crate::error::{Error, OAuthError};
use crate::keys::verify::verify_access_token;

/// RFC 6750 §3.1: "If the request lacks any authentication information ..., the resource
/// server SHOULD NOT include an error code or other error information" in the challenge.
fn missing(realm: &str) -> OAuthError {
    OAuthError::new(401, "invalid_token", "an access token is required (Authorization: Bearer)")
        .with_www_authenticate(format!("Bearer realm=\"{realm}\""))
}

/// The challenge for a token that is not (or no longer) acceptable, e.g. its user was deleted.
pub fn invalid(realm: &str) -> OAuthError {
    OAuthError::new(401, "invalid_token", "the access token is invalid, expired or revoked")
        .with_www_authenticate(format!("Bearer realm=\"{realm}\", error=\"invalid_token\""))
}

/// The claims of the request's access token (`None`: it presented none) when it is valid and
/// unrevoked.
pub async fn authenticate(app: &App, token: Option<&str>, now: i64) -> Result<AccessClaims, Error> {
    let realm = &app.config.issuer;
    let Some(token) = token else { return Err(missing(realm).into()) };
    let claims = match verify_access_token(&app.keys, token, &app.config.issuer, None, now).await? {
        Ok(claims) => claims,
        Err(_) => return Err(invalid(realm).into()),
    };
    if app.store.is_access_token_revoked(&claims.jti, now).await? {
        return Err(invalid(realm).into());
    }
    Ok(claims)
}

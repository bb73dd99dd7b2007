//! Verifying our own access tokens locally, against the cached key registry: no KMS call.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};

use super::registry::KeyRing;
use crate::oauth::error::Error;
use crate::tokens::access::AccessClaims;

/// Clock skew tolerated on `exp`.
pub const LEEWAY_SECONDS: i64 = 30;

/// Why a token is not acceptable. Callers answer all of these the same way (`invalid_token`).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Rejected {
    #[error("not a JWT")]
    Malformed,
    #[error("not an access token (typ must be at+jwt)")]
    WrongType,
    #[error("signed by an unknown key")]
    UnknownKey,
    #[error("signature, issuer, audience or lifetime check failed")]
    Invalid,
}

/// The claims of `token` when it is an unexpired access token we issued for `audience` (any
/// audience when `None`).
pub async fn verify_access_token(
    keys: &KeyRing,
    token: &str,
    issuer: &str,
    audience: Option<&str>,
    now: i64,
) -> Result<Result<AccessClaims, Rejected>, Error> {
    let Ok(header) = jsonwebtoken::decode_header(token) else {
        return Ok(Err(Rejected::Malformed));
    };
    // RFC 9068 §4: "Resource servers MUST verify that the typ header value is at+jwt".
    let typ_ok = header
        .typ
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt"));
    if header.alg != Algorithm::ES256 || !typ_ok {
        return Ok(Err(Rejected::WrongType));
    }
    let Some(kid) = header.kid else {
        return Ok(Err(Rejected::UnknownKey));
    };
    let Some(key) = keys.find(&kid, now).await? else {
        return Ok(Err(Rejected::UnknownKey));
    };
    let Ok(decoding_key) = DecodingKey::from_ec_components(&key.jwk.x, &key.jwk.y) else {
        return Err(Error::Internal(anyhow::anyhow!("registered key {kid} has unusable coordinates")));
    };
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_issuer(&[issuer]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "sub", "aud"]);
    validation.leeway = LEEWAY_SECONDS as u64;
    match audience {
        Some(aud) => validation.set_audience(&[aud]),
        None => validation.validate_aud = false,
    }
    Ok(jsonwebtoken::decode::<AccessClaims>(token, &decoding_key, &validation)
        .map(|data| data.claims)
        .map_err(|_| Rejected::Invalid))
}

//! Verifying our own access tokens (and ID tokens presented back as hints) locally, against the cached key registry: no KMS call.
//!
//! The algorithm comes from the registry, never from the token: a token whose header names
//! another algorithm than its key is registered for is refused before any signature check
//! (RFC 8725 §3.1), and an ES256 signature must have a low `s` (we only ever issue those; the
//! high-`s` twin `n − s` of a valid signature verifies mathematically, and would give one token
//! a second spelling).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Header, Validation};
use serde::de::DeserializeOwned;

use super::algorithm::Algorithm;
use super::jwks::Jwk;
use super::registry::KeyRing;
use crate::clock::LEEWAY_SECONDS;
use crate::domain::access_claims::AccessClaims;
use crate::error::Error;

/// Why a token is not acceptable. Callers answer all of these the same way (`invalid_token`).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Rejected {
    #[error("not a JWT")]
    Malformed,
    #[error("not an access token (typ must be at+jwt)")]
    WrongType,
    #[error("signed by an unknown key")]
    UnknownKey,
    #[error("not the algorithm its key is registered for")]
    WrongAlgorithm,
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
    // RFC 9068 §4: "Resource servers MUST verify that the typ header value is at+jwt".
    let typ = |t: &str| t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt");
    let (header, jwk) = match registered_key(keys, token, typ, now).await? {
        Ok(found) => found,
        Err(rejected) => return Ok(Err(rejected)),
    };
    verify_signed_by(&jwk, &header, token, issuer, audience)
}

/// The header of `token` and the published key it names, when its `typ` is one `typ_ok` takes.
async fn registered_key(
    keys: &KeyRing,
    token: &str,
    typ_ok: impl Fn(&str) -> bool,
    now: i64,
) -> Result<Result<(Header, Jwk), Rejected>, Error> {
    let Ok(header) = jsonwebtoken::decode_header(token) else {
        return Ok(Err(Rejected::Malformed));
    };
    if !header.typ.as_deref().is_some_and(typ_ok) {
        return Ok(Err(Rejected::WrongType));
    }
    let Some(kid) = &header.kid else {
        return Ok(Err(Rejected::UnknownKey));
    };
    let Some(key) = keys.find(kid, now).await? else {
        return Ok(Err(Rejected::UnknownKey));
    };
    Ok(Ok((header, key.jwk)))
}

/// The claims of `token` when it is an ID token we issued (OpenID Connect's `id_token_hint`):
/// our signature by a published key and our issuer, expired or not (Core §3.1.2.1: "the ID
/// Token MAY have expired"). Any audience: the caller compares it.
pub async fn verify_id_token_hint<C: DeserializeOwned>(
    keys: &KeyRing,
    token: &str,
    issuer: &str,
    now: i64,
) -> Result<Result<C, Rejected>, Error> {
    let (header, jwk) = match registered_key(keys, token, |t| t.eq_ignore_ascii_case("JWT"), now).await? {
        Ok(found) => found,
        Err(rejected) => return Ok(Err(rejected)),
    };
    check_signed_by(&jwk, &header, token, issuer, None, Lifetime::Ignored)
}

/// Checks `token` (whose parsed header is `header`) against the registered `jwk`: its
/// algorithm, its signature, and the issuer, audience and lifetime claims.
pub fn verify_signed_by(
    jwk: &Jwk,
    header: &Header,
    token: &str,
    issuer: &str,
    audience: Option<&str>,
) -> Result<Result<AccessClaims, Rejected>, Error> {
    check_signed_by(jwk, header, token, issuer, audience, Lifetime::Checked)
}

/// Whether a token's `exp` counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lifetime {
    Checked,
    Ignored,
}

fn check_signed_by<C: DeserializeOwned>(
    jwk: &Jwk,
    header: &Header,
    token: &str,
    issuer: &str,
    audience: Option<&str>,
    lifetime: Lifetime,
) -> Result<Result<C, Rejected>, Error> {
    if header.alg != jwk.alg.jsonwebtoken() || !jwk.is_consistent() {
        return Ok(Err(Rejected::WrongAlgorithm));
    }
    if jwk.alg == Algorithm::ES256 && has_high_s(token) {
        return Ok(Err(Rejected::Invalid));
    }
    let decoding_key = jwk.decoding_key().map_err(Error::Internal)?;
    let mut validation = Validation::new(jwk.alg.jsonwebtoken());
    validation.set_issuer(&[issuer]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "sub", "aud"]);
    validation.leeway = LEEWAY_SECONDS as u64;
    validation.validate_exp = lifetime == Lifetime::Checked;
    match audience {
        Some(aud) => validation.set_audience(&[aud]),
        None => validation.validate_aud = false,
    }
    Ok(jsonwebtoken::decode::<C>(token, &decoding_key, &validation)
        .map(|data| data.claims)
        .map_err(|_| Rejected::Invalid))
}

/// Whether the token's ES256 signature has `s` in the upper half of the group order.
fn has_high_s(token: &str) -> bool {
    let Some(signature) = token.rsplit('.').next().and_then(|s| URL_SAFE_NO_PAD.decode(s).ok()) else {
        return false; // not base64url: the signature check refuses it
    };
    p256::ecdsa::Signature::from_slice(&signature).is_ok_and(|s| s.normalize_s().is_some())
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{EncodingKey, encode};
    use serde_json::json;

    use super::super::test_keys::{EC_PRIVATE_PKCS8_B64, EC_SPKI_B64, RSA_PRIVATE_PKCS1_B64, RSA_SPKI_B64, der};
    use super::*;

    const ISSUER: &str = "https://auth.example";

    fn claims() -> serde_json::Value {
        let now = crate::clock::unix_now();
        json!({"iss": ISSUER, "sub": "u1", "aud": ISSUER, "exp": now + 600, "iat": now, "jti": "j1",
               "client_id": "c1", "scope": "openid"})
    }

    fn rsa_key() -> Jwk {
        Jwk::from_spki_der(&der(RSA_SPKI_B64)).expect("rsa jwk")
    }

    fn ec_key() -> Jwk {
        Jwk::from_spki_der(&der(EC_SPKI_B64)).expect("ec jwk")
    }

    fn sign(alg: jsonwebtoken::Algorithm, key: &EncodingKey, kid: &str) -> String {
        let mut header = Header::new(alg);
        header.typ = Some("at+jwt".into());
        header.kid = Some(kid.into());
        encode(&header, &claims(), key).expect("sign")
    }

    fn rs256_token() -> String {
        sign(jsonwebtoken::Algorithm::RS256, &EncodingKey::from_rsa_der(&der(RSA_PRIVATE_PKCS1_B64)), &rsa_key().kid)
    }

    /// An ES256 token in the low-`s` form our signer issues (aws-lc, like KMS, leaves `s` as it
    /// falls: high half the time).
    fn es256_token() -> String {
        let token =
            sign(jsonwebtoken::Algorithm::ES256, &EncodingKey::from_ec_der(&der(EC_PRIVATE_PKCS8_B64)), &ec_key().kid);
        let (input, signature) = token.rsplit_once('.').expect("jws");
        let signature = p256::ecdsa::Signature::from_slice(&URL_SAFE_NO_PAD.decode(signature).expect("b64"))
            .expect("raw signature");
        let low = signature.normalize_s().unwrap_or(signature);
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(low.to_bytes()))
    }

    fn check(jwk: &Jwk, token: &str) -> Result<AccessClaims, Rejected> {
        let header = jsonwebtoken::decode_header(token).expect("header");
        verify_signed_by(jwk, &header, token, ISSUER, Some(ISSUER)).expect("no backend error")
    }

    #[test]
    fn an_expired_hint_still_verifies_but_an_expired_access_token_does_not() {
        let now = crate::clock::unix_now();
        let mut header = Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = Some(rsa_key().kid.clone());
        let expired = json!({"iss": ISSUER, "sub": "u1", "aud": "c1", "exp": now - 3_600, "iat": now - 4_000});
        let token = encode(&header, &expired, &EncodingKey::from_rsa_der(&der(RSA_PRIVATE_PKCS1_B64))).expect("sign");
        let hint: Result<serde_json::Value, Rejected> =
            check_signed_by(&rsa_key(), &header, &token, ISSUER, None, Lifetime::Ignored).expect("no backend error");
        assert_eq!(hint.expect("an expired hint")["sub"], "u1");
        let access: Result<serde_json::Value, Rejected> =
            check_signed_by(&rsa_key(), &header, &token, ISSUER, None, Lifetime::Checked).expect("no backend error");
        assert_eq!(access, Err(Rejected::Invalid));
        let other_issuer: Result<serde_json::Value, Rejected> =
            check_signed_by(&rsa_key(), &header, &token, "https://other.example", None, Lifetime::Ignored)
                .expect("no backend error");
        assert_eq!(other_issuer, Err(Rejected::Invalid), "the issuer is still checked");
    }

    #[test]
    fn tokens_of_either_algorithm_verify_against_their_registered_key() {
        assert_eq!(check(&rsa_key(), &rs256_token()).expect("RS256").sub, "u1");
        assert_eq!(check(&ec_key(), &es256_token()).expect("ES256").sub, "u1");
    }

    #[test]
    fn a_token_whose_alg_is_not_its_keys_is_refused() {
        // Another asymmetric algorithm under the key's kid.
        assert_eq!(check(&ec_key(), &rs256_token()), Err(Rejected::WrongAlgorithm));
        assert_eq!(check(&rsa_key(), &es256_token()), Err(Rejected::WrongAlgorithm));
        // The classic confusion: HS256 keyed with the public key's bytes.
        let public = serde_json::to_vec(&rsa_key()).expect("json");
        let forged = sign(jsonwebtoken::Algorithm::HS256, &EncodingKey::from_secret(&public), &rsa_key().kid);
        assert_eq!(check(&rsa_key(), &forged), Err(Rejected::WrongAlgorithm));
        let forged = sign(jsonwebtoken::Algorithm::HS256, &EncodingKey::from_secret(&der(RSA_SPKI_B64)), "k");
        assert_eq!(check(&rsa_key(), &forged), Err(Rejected::WrongAlgorithm));
        // RS256's sibling with the same key: PS256 is not what the key is registered for.
        let pss = sign(jsonwebtoken::Algorithm::PS256, &EncodingKey::from_rsa_der(&der(RSA_PRIVATE_PKCS1_B64)), "k");
        assert_eq!(check(&rsa_key(), &pss), Err(Rejected::WrongAlgorithm));
    }

    #[test]
    fn a_high_s_es256_signature_is_refused() {
        let token = es256_token();
        assert!(check(&ec_key(), &token).is_ok(), "the low-s form verifies");
        let (input, signature) = token.rsplit_once('.').expect("jws");
        let low = p256::ecdsa::Signature::from_slice(&URL_SAFE_NO_PAD.decode(signature).expect("b64"))
            .expect("raw signature");
        let (r, s) = low.split_scalars();
        // The other solution of the same equation: n − s.
        let high = p256::ecdsa::Signature::from_scalars(r, -*s).expect("twin");
        assert!(high.normalize_s().is_some(), "the twin is the high one");
        let twin = format!("{input}.{}", URL_SAFE_NO_PAD.encode(high.to_bytes()));
        assert_eq!(check(&ec_key(), &twin), Err(Rejected::Invalid), "its high-s twin does not");
    }

    #[test]
    fn a_tampered_payload_or_signature_is_refused() {
        for (jwk, token) in [(rsa_key(), rs256_token()), (ec_key(), es256_token())] {
            let parts: Vec<&str> = token.split('.').collect();
            let other = URL_SAFE_NO_PAD.encode(br#"{"iss":"https://auth.example","sub":"admin"}"#);
            assert_eq!(check(&jwk, &format!("{}.{other}.{}", parts[0], parts[2])), Err(Rejected::Invalid));
            assert_eq!(check(&jwk, &format!("{}.{}.AAAA", parts[0], parts[1])), Err(Rejected::Invalid));
        }
    }
}

//! Compact JWS (RFC 7515) signed by the active key of the registry.
//!
//! The JWS is assembled here: `base64url(header) . base64url(claims)` is signed by
//! [`crate::keys::signer`] with the algorithm the key is registered for, and the signature
//! appended. How it signs depends on the key's custody: a `kms` key through KMS `Sign` (the
//! private key never leaves KMS; jsonwebtoken's synchronous signer cannot do that), an
//! `envelope` key in process with its private key, unwrapped once per container by KMS
//! `Decrypt`. Verification uses jsonwebtoken ([`crate::keys::verify`]).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;

use crate::App;
use crate::error::Error;

#[derive(Serialize)]
struct Header<'a> {
    alg: &'static str,
    typ: &'static str,
    kid: &'a str,
}

/// `claims` as a JWS of media type `typ` (`at+jwt` for access tokens, `JWT` for ID tokens),
/// signed by the key that signs at `now`.
pub async fn sign(app: &App, typ: &'static str, claims: &impl Serialize, now: i64) -> Result<String, Error> {
    let key = app.keys.active(now).await?;
    let header = Header { alg: key.jwk.alg.as_str(), typ, kid: &key.kid };
    let signing_input = format!("{}.{}", encode_json(&header)?, encode_json(claims)?);
    let signature = app.signer.sign(&key, signing_input.as_bytes()).await?;
    Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature)))
}

fn encode_json(value: &impl Serialize) -> Result<String, Error> {
    let json = serde_json::to_vec(value).map_err(|e| Error::Internal(e.into()))?;
    Ok(URL_SAFE_NO_PAD.encode(json))
}

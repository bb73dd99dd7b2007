//! Access tokens: JWTs per RFC 9068, signed ES256 by the active KMS key.
//!
//! jsonwebtoken cannot sign through KMS (its signer is synchronous and wants the private key),
//! so the JWS is assembled here: `base64url(header) . base64url(claims)` is signed by KMS and the
//! raw `r || s` appended. Verification uses jsonwebtoken ([`crate::keys::verify`]).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::secret::random_id;
use crate::App;
use crate::oauth::error::Error;
use crate::oauth::scope::Scope;
use crate::store::clients::Client;

/// The claims of RFC 9068 §2.2.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub client_id: String,
    pub scope: String,
}

#[derive(Serialize)]
struct Header<'a> {
    alg: &'static str,
    typ: &'static str,
    kid: &'a str,
}

/// A signed access token and what it says.
#[derive(Clone)]
pub struct AccessToken {
    pub jwt: String,
    pub claims: AccessClaims,
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessToken").field("jwt", &"..").field("claims", &self.claims).finish()
    }
}

/// Issues an access token for `subject` to `client`.
pub async fn issue(app: &App, subject: &str, client: &Client, scope: &Scope, now: i64) -> Result<AccessToken, Error> {
    let key = app.keys.active(now).await?;
    let claims = AccessClaims {
        iss: app.config.issuer.clone(),
        sub: subject.to_string(),
        aud: client.audience.clone().unwrap_or_else(|| app.config.audience.clone()),
        exp: now + app.config.access_token_ttl.as_secs() as i64,
        iat: now,
        jti: random_id(),
        client_id: client.id.clone(),
        scope: scope.to_string(),
    };
    let header = Header { alg: "ES256", typ: "at+jwt", kid: &key.kid };
    let signing_input = format!("{}.{}", encode_json(&header)?, encode_json(&claims)?);
    let signature = app.signer.sign_es256(&key.kms_key_id, signing_input.as_bytes()).await?;
    let jwt = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature));
    Ok(AccessToken { jwt, claims })
}

fn encode_json(value: &impl Serialize) -> Result<String, Error> {
    let json = serde_json::to_vec(value).map_err(|e| Error::Internal(e.into()))?;
    Ok(URL_SAFE_NO_PAD.encode(json))
}

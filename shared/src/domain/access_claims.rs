//! What an access token says: the claims of RFC 9068 §2.2, as issued and as verified.

use serde::{Deserialize, Serialize};

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

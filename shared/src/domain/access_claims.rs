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

impl AccessClaims {
    /// What names this token on the deny list.
    pub fn id(&self) -> AccessTokenId<'_> {
        AccessTokenId { jti: &self.jti, exp: self.exp }
    }
}

/// One access token as a revocation names it: its `jti`, and its `exp` (how long the deny-list
/// entry must last).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessTokenId<'a> {
    pub jti: &'a str,
    pub exp: i64,
}

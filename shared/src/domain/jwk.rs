//! Public signing keys as JWKs (RFC 7517/7518) and the JWS algorithms a key may be registered
//! for. How a key is made from KMS's public key, and what each algorithm means to KMS:
//! [`crate::keys::jwks`], [`crate::keys::algorithm`].
//!
//! A key signs with exactly one algorithm, recorded in the registry with its public JWK; every
//! verifier takes the algorithm from there, never from the token's header (no algorithm
//! confusion: RFC 8725 §3.1).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 §3.3) on a KMS `RSA_2048` key: what API
    /// Gateway's HTTP API JWT authorizer and every OpenID Connect library accept.
    RS256,
    /// ECDSA P-256 with SHA-256 (RFC 7518 §3.4) on a KMS `ECC_NIST_P256` key; low `s` only.
    ES256,
}

impl Algorithm {
    pub const ALL: [Algorithm; 2] = [Algorithm::RS256, Algorithm::ES256];

    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::RS256 => "RS256",
            Algorithm::ES256 => "ES256",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Algorithm {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Algorithm::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown signing algorithm {s:?} (RS256 or ES256)"))
    }
}

/// A public signing key with the one algorithm it is registered for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    #[serde(flatten)]
    pub params: KeyParams,
    pub kid: String,
    #[serde(rename = "use")]
    pub use_: String,
    pub alg: Algorithm,
}

/// The key-type-specific members (RFC 7518 §6), tagged by `kty`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kty")]
pub enum KeyParams {
    #[serde(rename = "EC")]
    Ec { crv: String, x: String, y: String },
    /// Modulus and exponent, big-endian without leading zeros, base64url (RFC 7518 §6.3.1).
    #[serde(rename = "RSA")]
    Rsa { n: String, e: String },
}

/// The JWKS document (RFC 7517 §5).
#[derive(Debug, Serialize, Deserialize)]
pub struct JwkSet {
    pub keys: Vec<Jwk>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_nothing_else_parses() {
        for alg in Algorithm::ALL {
            assert_eq!(alg.as_str().parse::<Algorithm>(), Ok(alg));
            assert_eq!(serde_json::to_string(&alg).expect("json"), format!("\"{alg}\""));
        }
        for bad in ["none", "HS256", "PS256", "RS384", ""] {
            assert!(bad.parse::<Algorithm>().is_err(), "{bad}");
        }
    }
}

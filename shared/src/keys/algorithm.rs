//! The JWS algorithms a signing key may be registered for, and what each means to KMS.
//!
//! A key signs with exactly one algorithm, recorded in the registry with its public JWK; every
//! verifier takes the algorithm from there, never from the token's header (no algorithm
//! confusion: RFC 8725 §3.1).

use std::fmt;
use std::str::FromStr;

use aws_sdk_kms::types::{DataKeyPairSpec, KeySpec, SigningAlgorithmSpec};
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

    /// The KMS key spec a new key of this algorithm is created with.
    pub fn key_spec(self) -> KeySpec {
        match self {
            Algorithm::RS256 => KeySpec::Rsa2048,
            Algorithm::ES256 => KeySpec::EccNistP256,
        }
    }

    /// The key pair KMS `GenerateDataKeyPair` makes for an envelope key of this algorithm.
    pub fn data_key_pair_spec(self) -> DataKeyPairSpec {
        match self {
            Algorithm::RS256 => DataKeyPairSpec::Rsa2048,
            Algorithm::ES256 => DataKeyPairSpec::EccNistP256,
        }
    }

    /// The KMS signing algorithm. JWA binds RS256 to PKCS#1 v1.5: a PSS signature under an
    /// RS256 header verifies nowhere.
    pub fn kms_signing_algorithm(self) -> SigningAlgorithmSpec {
        match self {
            Algorithm::RS256 => SigningAlgorithmSpec::RsassaPkcs1V15Sha256,
            Algorithm::ES256 => SigningAlgorithmSpec::EcdsaSha256,
        }
    }

    pub fn jsonwebtoken(self) -> jsonwebtoken::Algorithm {
        match self {
            Algorithm::RS256 => jsonwebtoken::Algorithm::RS256,
            Algorithm::ES256 => jsonwebtoken::Algorithm::ES256,
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

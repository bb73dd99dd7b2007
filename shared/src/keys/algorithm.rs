//! What each JWS algorithm a signing key may be registered for ([`Algorithm`], a domain type)
//! means to KMS and to jsonwebtoken.

use aws_sdk_kms::types::{DataKeyPairSpec, KeySpec, SigningAlgorithmSpec};

pub use crate::domain::jwk::Algorithm;

impl Algorithm {
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

//! A signing key held in process (custody `envelope`): its PKCS#8 private key, unwrapped from
//! its KMS ciphertext once per container, signs with aws-lc-rs.
//!
//! Rules: the plaintext PKCS#8 lives only in a [`Zeroizing`] buffer for as long as parsing takes;
//! the parsed key lives in AWS-LC's memory, which it wipes when the key is freed. Nothing here
//! implements `Debug` with key material, and nothing is serializable. A key that does not match
//! the public JWK it is registered with is refused, so a ciphertext swapped between registry
//! items can never sign under the wrong `kid`.

use anyhow::{Context as _, bail};
use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair as _, RsaKeyPair};
use zeroize::Zeroizing;

use super::algorithm::Algorithm;
use super::jwks::Jwk;

/// The encryption context a wrapped signing key is sealed under: its purpose, the deployment's
/// table and its `kid`. template.yaml's `kms:Decrypt` grant for signing keys requires the first
/// two, so a function can unwrap only this stack's signing keys, and the `kid` binds each
/// ciphertext to its registry item.
pub fn wrapping_context<'a>(table: &'a str, kid: &'a str) -> [(&'static str, &'a str); 3] {
    [("purpose", WRAPPING_PURPOSE), ("table", table), ("kid", kid)]
}

/// The `purpose` of a wrapped signing key's encryption context.
pub const WRAPPING_PURPOSE: &str = "wxauth-signing-key";

/// A private key that signs in process, with the algorithm it is registered for.
pub struct LocalKey {
    pair: Pair,
}

enum Pair {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
}

impl std::fmt::Debug for LocalKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LocalKey(..)") // never the key
    }
}

impl LocalKey {
    /// Parses `pkcs8` (wiped after parsing) as a key for `alg`.
    pub fn from_pkcs8(alg: Algorithm, pkcs8: Zeroizing<Vec<u8>>) -> anyhow::Result<Self> {
        let pair = match alg {
            Algorithm::RS256 => Pair::Rsa(RsaKeyPair::from_pkcs8(&pkcs8).map_err(|e| anyhow::anyhow!("{e}"))?),
            Algorithm::ES256 => Pair::Ec(
                EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8)
                    .map_err(|e| anyhow::anyhow!("{e}"))?,
            ),
        };
        Ok(Self { pair })
    }

    /// Parses `pkcs8` and checks that it is the private half of `jwk`.
    pub fn for_jwk(jwk: &Jwk, pkcs8: Zeroizing<Vec<u8>>) -> anyhow::Result<Self> {
        let key = Self::from_pkcs8(jwk.alg, pkcs8).context("the unwrapped key is not a PKCS#8 key of its algorithm")?;
        if key.public_jwk()? != *jwk {
            bail!("the unwrapped key is not the private half of the registered key {}", jwk.kid);
        }
        Ok(key)
    }

    /// A new key for `alg` generated here, as PKCS#8: for KMS emulators that lack
    /// `GenerateDataKeyPair` (moto).
    pub fn generate_pkcs8(alg: Algorithm) -> anyhow::Result<Zeroizing<Vec<u8>>> {
        let der = match alg {
            Algorithm::RS256 => {
                let pair =
                    RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).map_err(|e| anyhow::anyhow!("{e}"))?;
                let der = pair.as_der().map_err(|e| anyhow::anyhow!("{e}"))?;
                der.as_ref().to_vec()
            }
            Algorithm::ES256 => {
                let document =
                    EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                        .map_err(|e| anyhow::anyhow!("{e}"))?;
                document.as_ref().to_vec()
            }
        };
        Ok(Zeroizing::new(der))
    }

    /// The public key as the registry stores it (its `kid` the RFC 7638 thumbprint).
    pub fn public_jwk(&self) -> anyhow::Result<Jwk> {
        let spki = match &self.pair {
            Pair::Rsa(pair) => pair.public_key().as_der().map_err(|e| anyhow::anyhow!("{e}"))?.as_ref().to_vec(),
            Pair::Ec(pair) => pair.public_key().as_der().map_err(|e| anyhow::anyhow!("{e}"))?.as_ref().to_vec(),
        };
        Jwk::from_spki_der(&spki)
    }

    /// The JWS signature of `message`: PKCS#1 v1.5 with SHA-256, or ECDSA P-256 as raw `r || s`
    /// with a low `s` (as [`super::signer::der_to_raw`] makes KMS's).
    pub fn sign(&self, message: &[u8]) -> anyhow::Result<Vec<u8>> {
        let rng = SystemRandom::new();
        match &self.pair {
            Pair::Rsa(pair) => {
                let mut signature = vec![0u8; pair.public_modulus_len()];
                pair.sign(&signature::RSA_PKCS1_SHA256, &rng, message, &mut signature)
                    .map_err(|e| anyhow::anyhow!("RSA signing failed: {e}"))?;
                Ok(signature)
            }
            Pair::Ec(pair) => {
                let signature = pair.sign(&rng, message).map_err(|e| anyhow::anyhow!("ECDSA signing failed: {e}"))?;
                let signature =
                    p256::ecdsa::Signature::from_slice(signature.as_ref()).context("ECDSA signature is not r || s")?;
                Ok(signature.normalize_s().unwrap_or(signature).to_bytes().to_vec())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verify(jwk: &Jwk, message: &[u8], signature: &[u8]) -> bool {
        let key = jwk.decoding_key().expect("decoding key");
        let signature = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, signature);
        jsonwebtoken::crypto::verify(&signature, message, &key, jwk.alg.jsonwebtoken()).expect("verify runs")
    }

    #[test]
    fn generated_keys_sign_what_their_public_jwk_verifies() {
        for alg in Algorithm::ALL {
            let key = LocalKey::from_pkcs8(alg, LocalKey::generate_pkcs8(alg).expect("generate")).expect("parse");
            let jwk = key.public_jwk().expect("jwk");
            assert_eq!(jwk.alg, alg);
            let signature = key.sign(b"header.claims").expect("sign");
            assert!(verify(&jwk, b"header.claims", &signature), "{alg}");
            assert!(!verify(&jwk, b"header.claimz", &signature), "{alg}: another message");
        }
    }

    #[test]
    fn es256_signatures_are_raw_and_low_s() {
        let key = LocalKey::from_pkcs8(Algorithm::ES256, LocalKey::generate_pkcs8(Algorithm::ES256).expect("gen"))
            .expect("parse");
        for i in 0..64 {
            let signature = key.sign(format!("message {i}").as_bytes()).expect("sign");
            assert_eq!(signature.len(), 64);
            let parsed = p256::ecdsa::Signature::from_slice(&signature).expect("r || s");
            assert!(parsed.normalize_s().is_none(), "low s");
        }
    }

    #[test]
    fn a_key_is_refused_under_another_keys_jwk_or_algorithm() {
        let rsa = LocalKey::generate_pkcs8(Algorithm::RS256).expect("gen");
        let ec = LocalKey::generate_pkcs8(Algorithm::ES256).expect("gen");
        let other = LocalKey::from_pkcs8(Algorithm::ES256, LocalKey::generate_pkcs8(Algorithm::ES256).expect("gen"))
            .expect("parse")
            .public_jwk()
            .expect("jwk");
        assert!(LocalKey::for_jwk(&other, ec.clone()).is_err(), "another EC key");
        assert!(LocalKey::from_pkcs8(Algorithm::ES256, rsa.clone()).is_err(), "RSA as ES256");
        assert!(LocalKey::from_pkcs8(Algorithm::RS256, ec.clone()).is_err(), "EC as RS256");
        assert!(LocalKey::from_pkcs8(Algorithm::RS256, Zeroizing::new(b"not a key".to_vec())).is_err());
        let own = LocalKey::from_pkcs8(Algorithm::ES256, ec.clone()).expect("parse").public_jwk().expect("jwk");
        assert!(LocalKey::for_jwk(&own, ec).is_ok());
    }
}

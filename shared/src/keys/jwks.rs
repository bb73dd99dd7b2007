//! Public keys as JWKs (RFC 7517/7518; the types are [`crate::domain::jwk`]) made from KMS's
//! public keys, and the `kid` as their RFC 7638 thumbprint.

use anyhow::{Context as _, bail};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use der::Decode as _;
use jsonwebtoken::DecodingKey;
use p256::pkcs8::DecodePublicKey as _;
use sha2::{Digest, Sha256};

use crate::domain::jwk::Algorithm;
pub use crate::domain::jwk::{Jwk, JwkSet, KeyParams};

/// rsaEncryption (RFC 8017 A.1) and id-ecPublicKey (RFC 5480 §2.1.1).
const RSA_ENCRYPTION: der::asn1::ObjectIdentifier = der::asn1::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC_PUBLIC_KEY: der::asn1::ObjectIdentifier = der::asn1::ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");

/// KMS's smallest RSA key; NIST SP 800-131A's floor for RSA signatures.
const MIN_RSA_BITS: usize = 2048;

impl Jwk {
    /// From the SubjectPublicKeyInfo DER that KMS `GetPublicKey` returns: a P-256 key becomes an
    /// ES256 JWK, an RSA key of 2048 bits or more an RS256 one; `kid` is the thumbprint.
    pub fn from_spki_der(der: &[u8]) -> anyhow::Result<Self> {
        let spki = spki::SubjectPublicKeyInfoRef::from_der(der).context("not a SubjectPublicKeyInfo")?;
        match spki.algorithm.oid {
            EC_PUBLIC_KEY => {
                let key = p256::PublicKey::from_public_key_der(der).context("an EC key, but not on P-256")?;
                Ok(Self::from_p256(&key))
            }
            RSA_ENCRYPTION => {
                let bits = spki.subject_public_key.as_bytes().context("the RSA key is not a whole number of bytes")?;
                let key = pkcs1::RsaPublicKey::from_der(bits).context("not a PKCS#1 RSA public key")?;
                let (n, e) = (key.modulus.as_bytes(), key.public_exponent.as_bytes());
                if n.len() * 8 < MIN_RSA_BITS {
                    bail!("an RSA key of {} bits is too short for RS256 (at least {MIN_RSA_BITS})", n.len() * 8);
                }
                Ok(Self::with_thumbprint(
                    KeyParams::Rsa { n: URL_SAFE_NO_PAD.encode(n), e: URL_SAFE_NO_PAD.encode(e) },
                    Algorithm::RS256,
                ))
            }
            other => bail!("a key of type {other} cannot sign RS256 or ES256"),
        }
    }

    pub fn from_p256(key: &p256::PublicKey) -> Self {
        use p256::elliptic_curve::sec1::ToEncodedPoint as _;
        let point = key.to_encoded_point(false);
        let coordinate =
            |c: Option<&p256::FieldBytes>| URL_SAFE_NO_PAD.encode(c.map(|b| b.to_vec()).unwrap_or_default());
        Self::with_thumbprint(
            KeyParams::Ec { crv: "P-256".into(), x: coordinate(point.x()), y: coordinate(point.y()) },
            Algorithm::ES256,
        )
    }

    fn with_thumbprint(params: KeyParams, alg: Algorithm) -> Self {
        let mut jwk = Jwk { params, kid: String::new(), use_: "sig".into(), alg };
        jwk.kid = jwk.thumbprint();
        jwk
    }

    /// RFC 7638: SHA-256 over the required members in lexicographic order, no whitespace.
    pub fn thumbprint(&self) -> String {
        let canonical = match &self.params {
            KeyParams::Ec { crv, x, y } => format!(r#"{{"crv":"{crv}","kty":"EC","x":"{x}","y":"{y}"}}"#),
            KeyParams::Rsa { n, e } => format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#),
        };
        URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
    }

    /// Whether the key type is the one its algorithm needs (a registry item could say
    /// otherwise only by tampering or a bug: such a key verifies nothing).
    pub fn is_consistent(&self) -> bool {
        matches!(
            (&self.params, self.alg),
            (KeyParams::Ec { crv, .. }, Algorithm::ES256) if crv == "P-256"
        ) || matches!((&self.params, self.alg), (KeyParams::Rsa { .. }, Algorithm::RS256))
    }

    /// The key for jsonwebtoken's verifier.
    pub fn decoding_key(&self) -> anyhow::Result<DecodingKey> {
        let key = match &self.params {
            KeyParams::Ec { x, y, .. } => DecodingKey::from_ec_components(x, y),
            KeyParams::Rsa { n, e } => DecodingKey::from_rsa_components(n, e),
        };
        key.with_context(|| format!("registered key {} is unusable", self.kid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spki(b64: &str) -> Vec<u8> {
        base64::engine::general_purpose::STANDARD.decode(b64).expect("b64")
    }

    // A P-256 key generated with `openssl ecparam -name prime256v1 -genkey | openssl ec -pubout
    // -outform DER | base64 -w0`; its coordinates and thumbprint were computed independently
    // with Python's `cryptography` and `hashlib`.
    const EC_SPKI_B64: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEmSTii6MmEXdDr8Xkkslp213okKQlF3Zul6e+pKK6ton9mivHX3dTCSCw+9KnLUWF8YBvSCHIhWvXpCO4ILDezQ==";
    const EC_THUMBPRINT: &str = "0xy5_J44tOniofhz96RR92C7KVz8PyIBXqMF7dMpCec";

    // The RSA 2048 key of [`super::super::test_keys`]; n, e and the RFC 7638 thumbprint computed
    // with Python's `cryptography` (public_numbers()) and `hashlib`, not with this code.
    use super::super::test_keys::RSA_SPKI_B64;
    const RSA_N: &str = "0_LWhF7mOT2-UHByRMQPn5edrANKdtchY1g3s9L7whJeooXaypAre0OU2KINOOpmavIatrq2x4bHnIMi2S3iYD6Xa1l86U7dyEvvzh6Hdfei1p9gkBx17-fKSeGqCEpBxvLumsdeGzfM9Zko2rS6jZ3GuGHmhpjZTYz5bNoVsDD4y2RRxRp2UpyoVMDT-ZZohXOd-plKBct8CBqiq06Pnebmj1b8qtx7FuBzoNM-QaPlmQuZ7TKdR3BgBsx4tntUF7GAE3EEkJofW0YjjAeM8SQBsMwrRQbPzh6qJAPrBGzXqY4vqbpn2Bn77_MAJqmTtlllPWTR4WgWPs_-AHHSJQ";
    const RSA_THUMBPRINT: &str = "VoC8XqHeVpJYfQkLOM90rLQMyqHHLz2i_UsCzAs9Y-g";

    #[test]
    fn an_ec_spki_becomes_an_es256_jwk_with_its_rfc7638_thumbprint() {
        let jwk = Jwk::from_spki_der(&spki(EC_SPKI_B64)).expect("jwk");
        let KeyParams::Ec { crv, x, y } = &jwk.params else { panic!("not EC: {jwk:?}") };
        assert_eq!(crv, "P-256");
        assert_eq!(x, "mSTii6MmEXdDr8Xkkslp213okKQlF3Zul6e-pKK6tok");
        assert_eq!(y, "_Zorx193UwkgsPvSpy1FhfGAb0ghyIVr16QjuCCw3s0");
        assert_eq!((jwk.kid.as_str(), jwk.alg, jwk.use_.as_str()), (EC_THUMBPRINT, Algorithm::ES256, "sig"));
        assert!(jwk.is_consistent());
    }

    #[test]
    fn an_rsa_spki_becomes_an_rs256_jwk_with_its_rfc7638_thumbprint() {
        let jwk = Jwk::from_spki_der(&spki(RSA_SPKI_B64)).expect("jwk");
        assert_eq!(jwk.params, KeyParams::Rsa { n: RSA_N.into(), e: "AQAB".into() });
        assert_eq!((jwk.kid.as_str(), jwk.alg, jwk.use_.as_str()), (RSA_THUMBPRINT, Algorithm::RS256, "sig"));
        assert!(jwk.is_consistent());
        jwk.decoding_key().expect("jsonwebtoken takes it");
    }

    #[test]
    fn the_rsa_thumbprint_is_rfc7638s_own_example() {
        // RFC 7638 §3.1: this key's thumbprint is NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        let jwk = Jwk::with_thumbprint(KeyParams::Rsa { n: n.into(), e: "AQAB".into() }, Algorithm::RS256);
        assert_eq!(jwk.kid, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    }

    #[test]
    fn the_json_is_a_standard_jwk_and_reads_back() {
        let jwk = Jwk::from_spki_der(&spki(RSA_SPKI_B64)).expect("jwk");
        let json = serde_json::to_value(&jwk).expect("json");
        assert_eq!(json["kty"], "RSA");
        assert_eq!(json["alg"], "RS256");
        assert_eq!(json["use"], "sig");
        assert_eq!(json["e"], "AQAB");
        assert_eq!(serde_json::from_value::<Jwk>(json).expect("reads back"), jwk);
        // What the registry holds for keys registered before RS256 existed.
        let stored = format!(
            r#"{{"kty":"EC","crv":"P-256","x":"mSTii6MmEXdDr8Xkkslp213okKQlF3Zul6e-pKK6tok","y":"_Zorx193UwkgsPvSpy1FhfGAb0ghyIVr16QjuCCw3s0","kid":"{EC_THUMBPRINT}","use":"sig","alg":"ES256"}}"#
        );
        let old: Jwk = serde_json::from_str(&stored).expect("an ES256 registry entry");
        assert_eq!(old, Jwk::from_spki_der(&spki(EC_SPKI_B64)).expect("jwk"));
    }

    #[test]
    fn a_key_type_that_disagrees_with_its_algorithm_is_inconsistent() {
        let mut jwk = Jwk::from_spki_der(&spki(RSA_SPKI_B64)).expect("jwk");
        jwk.alg = Algorithm::ES256;
        assert!(!jwk.is_consistent());
        let mut jwk = Jwk::from_spki_der(&spki(EC_SPKI_B64)).expect("jwk");
        jwk.alg = Algorithm::RS256;
        assert!(!jwk.is_consistent());
    }

    #[test]
    fn garbage_is_not_a_key() {
        assert!(Jwk::from_spki_der(b"not der").is_err());
        assert!(Jwk::from_spki_der(&[]).is_err());
    }
}

//! Public keys as JWKs (RFC 7517/7518) and the `kid` as their RFC 7638 thumbprint.

use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::pkcs8::DecodePublicKey as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A P-256 public key for ES256 signatures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    pub kty: String,
    pub crv: String,
    pub x: String,
    pub y: String,
    pub kid: String,
    #[serde(rename = "use")]
    pub use_: String,
    pub alg: String,
}

impl Jwk {
    /// From the SubjectPublicKeyInfo DER that KMS `GetPublicKey` returns; `kid` is the
    /// thumbprint.
    pub fn from_spki_der(der: &[u8]) -> anyhow::Result<Self> {
        let key = p256::PublicKey::from_public_key_der(der).context("not a P-256 SubjectPublicKeyInfo")?;
        Ok(Self::from_public_key(&key))
    }

    pub fn from_public_key(key: &p256::PublicKey) -> Self {
        use p256::elliptic_curve::sec1::ToEncodedPoint as _;
        let point = key.to_encoded_point(false);
        let coordinate =
            |c: Option<&p256::FieldBytes>| URL_SAFE_NO_PAD.encode(c.map(|b| b.to_vec()).unwrap_or_default());
        let mut jwk = Jwk {
            kty: "EC".into(),
            crv: "P-256".into(),
            x: coordinate(point.x()),
            y: coordinate(point.y()),
            kid: String::new(),
            use_: "sig".into(),
            alg: "ES256".into(),
        };
        jwk.kid = jwk.thumbprint();
        jwk
    }

    /// RFC 7638: SHA-256 over the required members in lexicographic order, no whitespace.
    pub fn thumbprint(&self) -> String {
        let canonical = format!(r#"{{"crv":"{}","kty":"{}","x":"{}","y":"{}"}}"#, self.crv, self.kty, self.x, self.y);
        URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
    }
}

/// The JWKS document (RFC 7517 §5).
#[derive(Debug, Serialize, Deserialize)]
pub struct JwkSet {
    pub keys: Vec<Jwk>,
}

#[cfg(test)]
mod tests {
    use super::*;

    // A P-256 key generated with `openssl ecparam -name prime256v1 -genkey | openssl ec -pubout
    // -outform DER | base64 -w0`; its coordinates and thumbprint were computed independently
    // with Python's `cryptography` and `hashlib`.
    const SPKI_B64: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEmSTii6MmEXdDr8Xkkslp213okKQlF3Zul6e+pKK6ton9mivHX3dTCSCw+9KnLUWF8YBvSCHIhWvXpCO4ILDezQ==";

    #[test]
    fn jwk_from_spki_has_the_coordinates_and_rfc7638_thumbprint() {
        let der = base64::engine::general_purpose::STANDARD.decode(SPKI_B64).expect("b64");
        let jwk = Jwk::from_spki_der(&der).expect("jwk");
        assert_eq!(jwk.x, "mSTii6MmEXdDr8Xkkslp213okKQlF3Zul6e-pKK6tok");
        assert_eq!(jwk.y, "_Zorx193UwkgsPvSpy1FhfGAb0ghyIVr16QjuCCw3s0");
        assert_eq!(jwk.kid, THUMBPRINT);
        assert_eq!(
            (jwk.kty.as_str(), jwk.crv.as_str(), jwk.alg.as_str(), jwk.use_.as_str()),
            ("EC", "P-256", "ES256", "sig")
        );
    }

    const THUMBPRINT: &str = "0xy5_J44tOniofhz96RR92C7KVz8PyIBXqMF7dMpCec";

    #[test]
    fn garbage_is_not_a_key() {
        assert!(Jwk::from_spki_der(b"not der").is_err());
    }
}

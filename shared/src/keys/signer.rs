//! Signatures made by KMS, turned into what a JWS needs.
//!
//! RS256: KMS's `RSASSA_PKCS1_V1_5_SHA_256` signature is the JWS signature as it is. ES256: KMS
//! returns an ASN.1 DER `ECDSA-Sig-Value`; a JWS carries the raw `r || s`, each 32 bytes,
//! left-padded (RFC 7518 §3.4), with `s` in the lower half. We sign with `MessageType::Raw`
//! (KMS hashes with SHA-256): moto ignores `Digest`, and a JWS signing input is far below KMS's
//! 4 KiB limit.

use anyhow::Context as _;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::MessageType;

use super::algorithm::Algorithm;
use crate::oauth::error::Error;
use crate::store::signing_keys::SigningKey;

/// Signs through KMS.
#[derive(Clone, Debug)]
pub struct Signer {
    kms: aws_sdk_kms::Client,
}

impl Signer {
    pub fn new(kms: aws_sdk_kms::Client) -> Self {
        Self { kms }
    }

    /// The JWS signature of `message` by `key`, with the algorithm it is registered for.
    pub async fn sign(&self, key: &SigningKey, message: &[u8]) -> Result<Vec<u8>, Error> {
        let alg = key.jwk.alg;
        let out = self
            .kms
            .sign()
            .key_id(&key.kms_key_id)
            .message(Blob::new(message))
            .message_type(MessageType::Raw)
            .signing_algorithm(alg.kms_signing_algorithm())
            .send()
            .await
            .map_err(|e| crate::aws::classify("KMS", "Sign", e))?;
        let signature = out.signature.context("KMS Sign returned no signature").map_err(Error::Internal)?;
        match alg {
            Algorithm::ES256 => Ok(der_to_raw(signature.as_ref()).map_err(Error::Internal)?.to_vec()),
            Algorithm::RS256 => Ok(signature.into_inner()),
        }
    }
}

/// DER `ECDSA-Sig-Value` to raw `r || s`, with `s` normalized to the lower half of the order
/// (some verifiers reject high `s`).
pub fn der_to_raw(der: &[u8]) -> anyhow::Result<[u8; 64]> {
    let signature = p256::ecdsa::Signature::from_der(der).context("not a DER P-256 ECDSA signature")?;
    let signature = signature.normalize_s().unwrap_or(signature);
    let mut raw = [0u8; 64];
    raw.copy_from_slice(&signature.to_bytes());
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a DER signature from big-endian integers the way ASN.1 encodes them: minimal
    /// length, with a 0x00 prefix when the high bit is set.
    fn der(r: &[u8], s: &[u8]) -> Vec<u8> {
        fn integer(v: &[u8]) -> Vec<u8> {
            let mut v: Vec<u8> = v.iter().copied().skip_while(|b| *b == 0).collect();
            if v.first().is_some_and(|b| b & 0x80 != 0) {
                v.insert(0, 0);
            }
            let mut out = vec![0x02, v.len() as u8];
            out.extend(v);
            out
        }
        let body: Vec<u8> = [integer(r), integer(s)].concat();
        let mut out = vec![0x30, body.len() as u8];
        out.extend(body);
        out
    }

    #[test]
    fn full_length_r_and_s_with_high_bits_convert() {
        let r = [0xAB; 32];
        let mut s = [0u8; 32];
        s[31] = 0x05; // small: already low-s
        s[0] = 0x01;
        let raw = der_to_raw(&der(&r, &s)).expect("raw");
        assert_eq!(&raw[..32], &r);
        assert_eq!(&raw[32..], &s);
    }

    #[test]
    fn short_r_and_s_are_left_padded() {
        let mut r = [0u8; 32];
        r[2..].copy_from_slice(&[0x11; 30]);
        let mut s = [0u8; 32];
        s[31] = 0x07;
        let encoded = der(&r, &s);
        assert!(encoded.len() < 70, "the DER form is shorter than a full-length one");
        let raw = der_to_raw(&encoded).expect("raw");
        assert_eq!(&raw[..32], &r);
        assert_eq!(&raw[32..], &s);
    }

    #[test]
    fn a_high_s_is_normalized() {
        // n - 1 for P-256: the highest possible s.
        let n_minus_1 = hex("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632550");
        let raw = der_to_raw(&der(&[0x22; 32], &n_minus_1)).expect("raw");
        let mut one = [0u8; 32];
        one[31] = 1;
        assert_eq!(&raw[32..], &one, "s becomes n - s");
    }

    #[test]
    fn garbage_is_rejected() {
        assert!(der_to_raw(b"\x30\x03\x02\x01").is_err());
        assert!(der_to_raw(&[]).is_err());
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex")).collect()
    }

    proptest::proptest! {
        /// KMS's DER becomes the raw low-s form, which reads back as the same signature (or its
        /// low-s twin): DER -> raw -> DER loses nothing but the high s.
        #[test]
        fn der_and_raw_signatures_round_trip(r in proptest::array::uniform32(proptest::num::u8::ANY),
                                             s in proptest::array::uniform32(proptest::num::u8::ANY)) {
            let Ok(signature) = p256::ecdsa::Signature::from_scalars(r, s) else {
                return Ok(()); // zero, or not below the group order: no signature at all
            };
            let raw = der_to_raw(signature.to_der().as_bytes()).expect("DER of a signature converts");
            let back = p256::ecdsa::Signature::from_slice(&raw).expect("raw is a signature");
            proptest::prop_assert!(back.normalize_s().is_none(), "low s");
            proptest::prop_assert_eq!(back, signature.normalize_s().unwrap_or(signature));
            proptest::prop_assert_eq!(der_to_raw(back.to_der().as_bytes()).expect("again"), raw);
        }
    }
}

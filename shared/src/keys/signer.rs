//! Signatures with a registered key, made as its custody says: by KMS (`kms`) or in process with
//! the key unwrapped once per container (`envelope`, [`super::local_key`]).
//!
//! KMS, RS256: KMS's `RSASSA_PKCS1_V1_5_SHA_256` signature is the JWS signature as it is. ES256:
//! KMS returns an ASN.1 DER `ECDSA-Sig-Value`; a JWS carries the raw `r || s`, each 32 bytes,
//! left-padded (RFC 7518 §3.4), with `s` in the lower half. We sign with `MessageType::Raw`
//! (KMS hashes with SHA-256): moto ignores `Digest`, and a JWS signing input is far below KMS's
//! 4 KiB limit.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::MessageType;

use super::algorithm::Algorithm;
use super::data_key::kms_decrypt;
use super::local_key::{LocalKey, wrapping_context};
use crate::domain::signing_key::{Custody, SigningKey};
use crate::error::Error;

/// Signs with KMS, or with the envelope keys this container has unwrapped.
pub struct Signer {
    kms: aws_sdk_kms::Client,
    /// The deployment's table: part of every wrapped key's encryption context.
    table: String,
    unwrapped: Mutex<HashMap<String, Arc<LocalKey>>>,
    /// When each key last failed to unwrap, and why: for [`RETRY_UNWRAP_AFTER`] its requests are
    /// answered 503 (with that cause in the log) without calling KMS again, so that a refused
    /// grant or a throttled KMS does not meet a storm of retries from every request of every
    /// container.
    failed: Mutex<HashMap<String, (Instant, String)>>,
    /// One unwrapping at a time: concurrent first requests wait for one `Decrypt`, not each
    /// make their own.
    unwrapping: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("table", &self.table).finish_non_exhaustive()
    }
}

impl Signer {
    pub fn new(kms: aws_sdk_kms::Client, table: impl Into<String>) -> Self {
        Self {
            kms,
            table: table.into(),
            unwrapped: Mutex::default(),
            failed: Mutex::default(),
            unwrapping: tokio::sync::Mutex::const_new(()),
        }
    }

    /// The JWS signature of `message` by `key`, with the algorithm it is registered for.
    pub async fn sign(&self, key: &SigningKey, message: &[u8]) -> Result<Vec<u8>, Error> {
        match &key.custody {
            Custody::Kms => self.sign_with_kms(key, message).await,
            Custody::Envelope { wrapped } => {
                let local = self.unwrap(key, wrapped).await?;
                local.sign(message).map_err(Error::Internal)
            }
        }
    }

    /// Unwraps `key` now if it is an envelope key (a cold start's warm-up), so the first request
    /// does not wait on KMS.
    pub async fn prepare(&self, key: &SigningKey) -> Result<(), Error> {
        match &key.custody {
            Custody::Kms => Ok(()),
            Custody::Envelope { wrapped } => self.unwrap(key, wrapped).await.map(drop),
        }
    }

    async fn sign_with_kms(&self, key: &SigningKey, message: &[u8]) -> Result<Vec<u8>, Error> {
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

    fn cached(&self, kid: &str) -> Option<Arc<LocalKey>> {
        self.unwrapped.lock().ok()?.get(kid).cloned()
    }

    /// The unwrapped key, decrypted through KMS on first use. Any failure is a 503: the key is
    /// registered, so a refusal (a missing grant, a disabled KMS key) is the deployment's fault
    /// to fix, and the next request tries again. The log says why, never with the key.
    async fn unwrap(&self, key: &SigningKey, wrapped: &[u8]) -> Result<Arc<LocalKey>, Error> {
        if let Some(local) = self.cached(&key.kid) {
            return Ok(local);
        }
        let _one_at_a_time = self.unwrapping.lock().await;
        if let Some(local) = self.cached(&key.kid) {
            return Ok(local);
        }
        let failed_recently = self.failed.lock().ok().and_then(|failed| {
            failed.get(&key.kid).filter(|(at, _)| at.elapsed() < RETRY_UNWRAP_AFTER).map(|(_, why)| why.clone())
        });
        if let Some(why) = failed_recently {
            return Err(Error::Unavailable(anyhow::anyhow!(
                "{why} (failed within the last second: KMS not asked again)"
            )));
        }
        let unwrapped = self.unwrap_now(key, wrapped).await;
        if let Ok(mut failed) = self.failed.lock() {
            match &unwrapped {
                Ok(_) => failed.remove(&key.kid),
                Err(e) => failed.insert(key.kid.clone(), (Instant::now(), why(e))),
            };
        }
        unwrapped
    }

    async fn unwrap_now(&self, key: &SigningKey, wrapped: &[u8]) -> Result<Arc<LocalKey>, Error> {
        let context = wrapping_context(&self.table, &key.kid);
        let pkcs8 =
            kms_decrypt(&self.kms, &key.kms_key_id, wrapped, &context).await.map_err(|e| unavailable(e, &key.kid))?;
        let local = LocalKey::for_jwk(&key.jwk, pkcs8).map_err(|e| unavailable(Error::Internal(e), &key.kid))?;
        let local = Arc::new(local);
        if let Ok(mut unwrapped) = self.unwrapped.lock() {
            unwrapped.insert(key.kid.clone(), local.clone());
        }
        Ok(local)
    }
}

/// The cause of an unwrapping failure, as its log line shows it (KMS's answer; never key material).
fn why(e: &Error) -> String {
    match e {
        Error::Unavailable(cause) | Error::Internal(cause) | Error::BadGateway(cause) => format!("{cause:#}"),
        Error::OAuth(e) => e.description.to_string(),
    }
}

/// How long a key that failed to unwrap is answered 503 without asking KMS again: the
/// `Retry-After` of that answer.
pub const RETRY_UNWRAP_AFTER: Duration = Duration::from_secs(1);

/// Whatever kept the envelope key `kid` from unwrapping, as a 503 whose cause (logged with the
/// answer, never with the key) names the key.
fn unavailable(e: Error, kid: &str) -> Error {
    let cause = match e {
        Error::Unavailable(cause) | Error::Internal(cause) | Error::BadGateway(cause) => cause,
        Error::OAuth(e) => anyhow::anyhow!("{}", e.description),
    };
    Error::Unavailable(cause.context(format!("unwrapping the envelope signing key {kid}")))
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

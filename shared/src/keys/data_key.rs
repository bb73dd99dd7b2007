//! Secrets at rest (WeChat session keys, app secrets, server access tokens), sealed by envelope
//! encryption under the symmetric KMS key.
//!
//! A data key from KMS `GenerateDataKey` (encryption context: the secret's `purpose` only, so
//! template.yaml can grant each function the purposes it needs) seals many secrets with
//! AES-256-GCM; each secret's whole encryption context (for a session key: purpose, appid and
//! openid) is its additional data, so a ciphertext copied onto another item does not open. The
//! data key's KMS ciphertext travels with every secret:
//!
//! `"WXE1" | u16 length | data key's KMS ciphertext | 12-byte nonce | ciphertext | 16-byte tag`
//!
//! Bounds, as the AWS Encryption SDK's caching materials manager has them: a data key seals for
//! at most `max_age` (default 5 minutes) and `max_messages` secrets (default 10,000), then a
//! new one is generated. The age bounds how long one container's memory can expose secrets
//! sealed after it and how soon a disabled KMS key stops new writes everywhere; the count bounds
//! how many secrets share one data key (random 96-bit nonces stay safe to 2^32 messages, far
//! beyond). A warm token function then calls KMS once per 5 minutes instead of once per login.
//! Decrypted data keys are cached by the SHA-256 of their KMS ciphertext, for `max_age` and at
//! most [`MAX_DECRYPTED`] of them.
//!
//! Secrets sealed before envelope encryption (plain KMS ciphertexts under the whole context)
//! still open: anything without the `WXE1` prefix goes to KMS `Decrypt` as before.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context as _;
use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::config::DataKeyBounds;
use crate::error::Error;

/// The format's prefix (and version); a KMS ciphertext never starts with it (AWS's start with
/// 0x01, moto's with a hex key id).
const MAGIC: &[u8; 4] = b"WXE1";
const TAG_LEN: usize = 16;
/// Decrypted data keys kept per container: each token container makes a new data key every
/// `max_age`, and a function that only decrypts meets those of every token container.
pub const MAX_DECRYPTED: usize = 256;

/// The symmetric KMS key and this container's data keys.
pub struct DataKey {
    kms: aws_sdk_kms::Client,
    key_id: String,
    bounds: DataKeyBounds,
    /// Per purpose, the data key that seals now.
    sealing: Mutex<HashMap<String, Sealing>>,
    /// Data keys by purpose and the SHA-256 of their KMS ciphertext, with when they were
    /// decrypted.
    opening: Mutex<HashMap<[u8; 32], OpeningKey>>,
}

type OpeningKey = (Instant, Arc<RandomizedNonceKey>);

struct Sealing {
    key: Arc<RandomizedNonceKey>,
    encrypted: Arc<Vec<u8>>,
    created: Instant,
    messages: u64,
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataKey").field("key_id", &self.key_id).field("bounds", &self.bounds).finish_non_exhaustive()
    }
}

impl DataKey {
    pub fn new(kms: aws_sdk_kms::Client, key_id: impl Into<String>) -> Self {
        Self::with_bounds(kms, key_id, DataKeyBounds::default())
    }

    pub fn with_bounds(kms: aws_sdk_kms::Client, key_id: impl Into<String>, bounds: DataKeyBounds) -> Self {
        Self { kms, key_id: key_id.into(), bounds, sealing: Mutex::default(), opening: Mutex::default() }
    }

    /// The KMS key's id as configured.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// Seals `plaintext` under `context`, which must name its `purpose`.
    pub async fn encrypt(&self, plaintext: &[u8], context: &[(&str, &str)]) -> Result<Vec<u8>, Error> {
        let purpose = purpose(context)?;
        let (key, encrypted) = match self.current_sealing_key(purpose) {
            Some(current) => current,
            None => self.new_sealing_key(purpose).await?,
        };
        let mut sealed = plaintext.to_vec();
        let nonce = key
            .seal_in_place_append_tag(Aad::from(additional_data(context)), &mut sealed)
            .map_err(|_| Error::Internal(anyhow::anyhow!("AES-GCM sealing failed")))?;
        let length =
            u16::try_from(encrypted.len()).map_err(|_| Error::Internal(anyhow::anyhow!("data key too long")))?;
        let mut out = Vec::with_capacity(MAGIC.len() + 2 + encrypted.len() + NONCE_LEN + sealed.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&length.to_be_bytes());
        out.extend_from_slice(&encrypted);
        out.extend_from_slice(nonce.as_ref());
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Opens what [`Self::encrypt`] sealed (or a KMS ciphertext of before) under `context`.
    pub async fn decrypt(&self, ciphertext: &[u8], context: &[(&str, &str)]) -> Result<Vec<u8>, Error> {
        if !ciphertext.starts_with(MAGIC) {
            return kms_decrypt(&self.kms, &self.key_id, ciphertext, context).await.map(|plain| plain.to_vec());
        }
        let envelope = Envelope::parse(ciphertext)
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("a malformed WXE1 ciphertext")))?;
        let key = self.opening_key(envelope.encrypted_key, purpose(context)?).await?;
        let nonce = Nonce::try_assume_unique_for_key(envelope.nonce)
            .map_err(|_| Error::Internal(anyhow::anyhow!("malformed nonce")))?;
        let mut in_out = envelope.sealed.to_vec();
        let plain = key.open_in_place(nonce, Aad::from(additional_data(context)), &mut in_out).map_err(|_| {
            Error::Internal(anyhow::anyhow!("the ciphertext does not open under its encryption context"))
        })?;
        Ok(plain.to_vec())
    }

    /// The sealing key of `purpose` if it is within its bounds, counting this use.
    fn current_sealing_key(&self, purpose: &str) -> Option<(Arc<RandomizedNonceKey>, Arc<Vec<u8>>)> {
        let mut sealing = self.sealing.lock().ok()?;
        let current = sealing.get_mut(purpose)?;
        if current.created.elapsed() >= self.bounds.max_age || current.messages >= self.bounds.max_messages {
            return None;
        }
        current.messages += 1;
        Some((current.key.clone(), current.encrypted.clone()))
    }

    async fn new_sealing_key(&self, purpose: &str) -> Result<(Arc<RandomizedNonceKey>, Arc<Vec<u8>>), Error> {
        let out = self
            .kms
            .generate_data_key()
            .key_id(&self.key_id)
            .key_spec(DataKeySpec::Aes256)
            .encryption_context("purpose", purpose)
            .send()
            .await
            .map_err(|e| crate::aws::classify("KMS", "GenerateDataKey", e))?;
        let plain = Zeroizing::new(out.plaintext.map(|p| p.into_inner()).unwrap_or_default());
        let encrypted =
            out.ciphertext_blob.context("KMS GenerateDataKey returned no ciphertext").map_err(Error::Internal)?;
        let key = Arc::new(aes_key(&plain)?);
        let encrypted = Arc::new(encrypted.into_inner());
        self.remember_opening_key(purpose, &encrypted, key.clone());
        if let Ok(mut sealing) = self.sealing.lock() {
            let fresh =
                Sealing { key: key.clone(), encrypted: encrypted.clone(), created: Instant::now(), messages: 1 };
            sealing.insert(purpose.to_string(), fresh);
        }
        Ok((key, encrypted))
    }

    async fn opening_key(&self, encrypted: &[u8], purpose: &str) -> Result<Arc<RandomizedNonceKey>, Error> {
        let hash = cache_key(purpose, encrypted);
        let cached = self.opening.lock().ok().and_then(|opening| {
            opening.get(&hash).filter(|(at, _)| at.elapsed() < self.bounds.max_age).map(|(_, key)| key.clone())
        });
        if let Some(key) = cached {
            return Ok(key);
        }
        let plain = kms_decrypt(&self.kms, &self.key_id, encrypted, &[("purpose", purpose)]).await?;
        let key = Arc::new(aes_key(&plain)?);
        self.remember_opening_key(purpose, encrypted, key.clone());
        Ok(key)
    }

    fn remember_opening_key(&self, purpose: &str, encrypted: &[u8], key: Arc<RandomizedNonceKey>) {
        let Ok(mut opening) = self.opening.lock() else { return };
        let max_age = self.bounds.max_age;
        opening.retain(|_, (at, _)| at.elapsed() < max_age);
        if opening.len() >= MAX_DECRYPTED
            && let Some(oldest) = opening.iter().min_by_key(|(_, (at, _))| *at).map(|(hash, _)| *hash)
        {
            opening.remove(&oldest);
        }
        opening.insert(cache_key(purpose, encrypted), (Instant::now(), key));
    }
}

/// KMS `Decrypt` of `ciphertext` under the KMS key `key_id` and `context`; the plaintext is wiped
/// when dropped.
pub(crate) async fn kms_decrypt(
    kms: &aws_sdk_kms::Client,
    key_id: &str,
    ciphertext: &[u8],
    context: &[(&str, &str)],
) -> Result<Zeroizing<Vec<u8>>, Error> {
    let out = kms
        .decrypt()
        .key_id(key_id)
        .ciphertext_blob(Blob::new(ciphertext))
        .set_encryption_context(Some(kms_context(context)))
        .send()
        .await
        .map_err(|e| crate::aws::classify("KMS", "Decrypt", e))?;
    let blob = out.plaintext.context("KMS Decrypt returned no plaintext").map_err(Error::Internal)?;
    Ok(Zeroizing::new(blob.into_inner()))
}

/// An encryption context as the KMS SDK takes it.
pub fn kms_context(context: &[(&str, &str)]) -> HashMap<String, String> {
    context.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// The parts of a `WXE1` ciphertext.
struct Envelope<'a> {
    encrypted_key: &'a [u8],
    nonce: &'a [u8],
    sealed: &'a [u8],
}

impl<'a> Envelope<'a> {
    fn parse(bytes: &'a [u8]) -> Option<Self> {
        let rest = bytes.strip_prefix(MAGIC)?;
        let (length, rest) = rest.split_first_chunk::<2>()?;
        let length = u16::from_be_bytes(*length) as usize;
        if length == 0 || rest.len() < length + NONCE_LEN + TAG_LEN {
            return None;
        }
        let (encrypted_key, rest) = rest.split_at(length);
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        Some(Self { encrypted_key, nonce, sealed })
    }
}

/// A decrypted data key's place in the cache: its purpose and its KMS ciphertext (the purpose
/// too, so that a data key opens only what its purpose's context seals, whatever the AAD says).
fn cache_key(purpose: &str, encrypted: &[u8]) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update((purpose.len() as u32).to_be_bytes());
    hash.update(purpose.as_bytes());
    hash.update(encrypted);
    hash.finalize().into()
}

fn aes_key(plain: &[u8]) -> Result<RandomizedNonceKey, Error> {
    RandomizedNonceKey::new(&AES_256_GCM, plain)
        .map_err(|_| Error::Internal(anyhow::anyhow!("KMS returned a data key that is not AES-256")))
}

fn purpose<'a>(context: &[(&str, &'a str)]) -> Result<&'a str, Error> {
    context
        .iter()
        .find(|(k, _)| *k == "purpose")
        .map(|(_, v)| *v)
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("an encryption context must name its purpose")))
}

/// The format's prefix and the context, sorted by name, each name and value length-prefixed (no
/// two contexts encode alike).
fn additional_data(context: &[(&str, &str)]) -> Vec<u8> {
    let mut pairs = context.to_vec();
    pairs.sort();
    let mut out = MAGIC.to_vec();
    for (k, v) in pairs {
        for part in [k, v] {
            out.extend_from_slice(&(part.len() as u32).to_be_bytes());
            out.extend_from_slice(part.as_bytes());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contexts_encode_unambiguously_and_in_any_order() {
        let a = additional_data(&[("purpose", "p"), ("appid", "wx1"), ("openid", "o")]);
        let b = additional_data(&[("openid", "o"), ("purpose", "p"), ("appid", "wx1")]);
        assert_eq!(a, b, "order does not matter");
        assert_ne!(additional_data(&[("a", "bc")]), additional_data(&[("ab", "c")]));
        assert_ne!(additional_data(&[("a", "b")]), additional_data(&[("a", "b"), ("c", "")]));
    }

    #[test]
    fn only_whole_envelopes_parse() {
        let mut good = MAGIC.to_vec();
        good.extend_from_slice(&3u16.to_be_bytes());
        good.extend_from_slice(b"edk");
        good.extend_from_slice(&[7; NONCE_LEN]);
        good.extend_from_slice(&[9; TAG_LEN]);
        let parsed = Envelope::parse(&good).expect("parses");
        assert_eq!((parsed.encrypted_key, parsed.nonce.len(), parsed.sealed.len()), (&b"edk"[..], NONCE_LEN, TAG_LEN));
        assert!(Envelope::parse(&good[..good.len() - 1]).is_none(), "short of a tag");
        assert!(Envelope::parse(b"WXE1").is_none());
        assert!(Envelope::parse(b"\x01\x02\x02\x00kms ciphertext").is_none(), "an AWS KMS ciphertext");
        let mut empty_key = MAGIC.to_vec();
        empty_key.extend_from_slice(&[0, 0]);
        empty_key.extend_from_slice(&[0; NONCE_LEN + TAG_LEN]);
        assert!(Envelope::parse(&empty_key).is_none());
    }

    #[test]
    fn a_context_without_purpose_is_refused() {
        assert!(purpose(&[("appid", "wx1")]).is_err());
        assert_eq!(purpose(&[("appid", "wx1"), ("purpose", "p")]).expect("purpose"), "p");
    }
}

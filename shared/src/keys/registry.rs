//! The signing-key registry as one container sees it: read from the table, cached for
//! `KEY_CACHE_TTL`, so signing and verifying never wait on KMS `GetPublicKey`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;

use super::jwks::Jwk;
use crate::domain::signing_key::{Custody, SigningKey};
use crate::error::Error;
use crate::store::Store;

/// A per-container cache of the registry.
#[derive(Debug)]
pub struct KeyRing {
    store: Store,
    ttl: Duration,
    cached: Mutex<Option<(Instant, Arc<Vec<SigningKey>>)>>,
}

impl KeyRing {
    pub fn new(store: Store, ttl: Duration) -> Self {
        Self { store, ttl, cached: Mutex::new(None) }
    }

    /// Every published key, from the cache while it is fresh.
    pub async fn published(&self, now: i64) -> Result<Arc<Vec<SigningKey>>, Error> {
        if let Some(keys) = self.fresh() {
            return Ok(keys);
        }
        self.reload(now).await
    }

    /// The key that signs now: the newest whose `active_from` has come. (A retired key is
    /// still the newest until its successor's time comes.)
    pub async fn active(&self, now: i64) -> Result<SigningKey, Error> {
        let keys = self.published(now).await?;
        keys.iter().filter(|k| k.active_from <= now).max_by_key(|k| (k.active_from, k.created_at)).cloned().ok_or_else(
            || Error::Internal(anyhow::anyhow!("no active signing key is registered (run `wxauth-admin init`)")),
        )
    }

    /// The published key `kid`. An unknown kid reloads the registry once, in case a key was
    /// registered since the cache was filled.
    pub async fn find(&self, kid: &str, now: i64) -> Result<Option<SigningKey>, Error> {
        let find =
            |keys: &[SigningKey]| keys.iter().find(|k| k.kid == kid && k.expires_at.is_none_or(|at| at > now)).cloned();
        if let Some(key) = find(&self.published(now).await?) {
            return Ok(Some(key));
        }
        let loaded_recently = self
            .cached
            .lock()
            .ok()
            .and_then(|c| c.as_ref().map(|(at, _)| at.elapsed()))
            .is_some_and(|age| age < Duration::from_secs(5));
        if loaded_recently {
            return Ok(None); // a flood of made-up kids must not become a flood of reads
        }
        Ok(find(&self.reload(now).await?))
    }

    fn fresh(&self) -> Option<Arc<Vec<SigningKey>>> {
        let cached = self.cached.lock().ok()?;
        cached.as_ref().filter(|(at, _)| at.elapsed() < self.ttl).map(|(_, keys)| keys.clone())
    }

    async fn reload(&self, now: i64) -> Result<Arc<Vec<SigningKey>>, Error> {
        let keys = Arc::new(self.store.signing_keys(now).await?);
        if let Ok(mut cached) = self.cached.lock() {
            *cached = Some((Instant::now(), keys.clone()));
        }
        Ok(keys)
    }
}

/// Registers the KMS key `kms_key_id` (asymmetric SIGN_VERIFY, RSA_2048 or larger for RS256,
/// ECC_NIST_P256 for ES256): reads its public key once and stores it, with the algorithm its
/// type implies and `active_from`. Idempotent per key.
pub async fn register_kms_key(
    kms: &aws_sdk_kms::Client,
    store: &Store,
    kms_key_id: &str,
    now: i64,
    active_from: i64,
) -> anyhow::Result<SigningKey> {
    let (key_id, jwk) = kms_public_key(kms, kms_key_id).await?;
    register_public_key(store, key_id, jwk, now, active_from).await
}

/// The KMS key's id as KMS names it, and its public key as a JWK (whose `alg` its type implies).
pub async fn kms_public_key(kms: &aws_sdk_kms::Client, kms_key_id: &str) -> anyhow::Result<(String, Jwk)> {
    let out = kms.get_public_key().key_id(kms_key_id).send().await.context("KMS GetPublicKey")?;
    let der = out.public_key.context("KMS returned no public key")?;
    let jwk = Jwk::from_spki_der(der.as_ref())?;
    Ok((out.key_id.unwrap_or_else(|| kms_key_id.to_string()), jwk))
}

/// Stores `jwk`, held by the KMS key `kms_key_id`, to sign from `active_from`. Idempotent per key.
pub async fn register_public_key(
    store: &Store,
    kms_key_id: String,
    jwk: Jwk,
    now: i64,
    active_from: i64,
) -> anyhow::Result<SigningKey> {
    let key = SigningKey {
        kid: jwk.kid.clone(),
        kms_key_id,
        custody: Custody::Kms,
        jwk,
        created_at: now,
        active_from,
        expires_at: None,
    };
    register_signing_key(store, key, now).await
}

/// Stores `key`. Idempotent per kid: a key registered before is answered as the registry holds it.
pub async fn register_signing_key(store: &Store, key: SigningKey, now: i64) -> anyhow::Result<SigningKey> {
    if store.register_signing_key(&key).await? {
        return Ok(key);
    }
    // Registered before: answer with what the registry holds, not with what we would have stored.
    let registered = store.signing_keys(now).await?.into_iter().find(|k| k.kid == key.kid);
    registered.context("the key is registered but no longer published")
}

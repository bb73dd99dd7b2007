//! Key rotation: a new signing key published ahead of its first signature, the keys it replaces
//! retired once every token they signed has expired.

use wxauth::domain::signing_key::{Custody, SigningKey};
use wxauth::keys::algorithm::Algorithm;
use wxauth::store::Store;

use crate::signing_keys::{DEFAULT_ALGORITHM, DEFAULT_CUSTODY, KeyCustody, adopt_signing_key, new_signing_key};

/// What a rotation brings in.
#[derive(Debug, Clone, Default)]
pub struct Rotation {
    /// An existing KMS signing key to adopt (custody `kms`); else a new key is made.
    pub kms_key_id: Option<String>,
    /// The new key's algorithm; by default the newest key's.
    pub alg: Option<Algorithm>,
    /// The new key's custody; by default the newest key's.
    pub custody: Option<KeyCustody>,
}

/// Rotates the signing key: registers the rotation's key to sign from `now + publish_ahead` on,
/// so every container's cached JWKS shows it before a token signed by it exists; the keys it
/// replaces stay published until `token_ttl` after that. A rotation may change the algorithm and
/// the custody: verifiers take each key's own algorithm, and signers each key's custody. An
/// envelope key is sealed by the data key `data_key_id`. Returns the new key.
pub async fn rotate_signing_key(
    kms: &aws_sdk_kms::Client,
    store: &Store,
    data_key_id: &str,
    rotation: Rotation,
    now: i64,
    publish_ahead: i64,
    token_ttl: i64,
) -> anyhow::Result<SigningKey> {
    let Rotation { kms_key_id, alg, custody } = rotation;
    let current = store.signing_keys(now).await?;
    // Strictly after every earlier key: the newest active key signs, and a tie would be a coin toss.
    let active_from = current.iter().map(|k| k.active_from + 1).fold(now + publish_ahead, i64::max);
    let new = match kms_key_id {
        Some(_) if custody == Some(KeyCustody::Envelope) => {
            anyhow::bail!("an adopted KMS key (--kms-key-id) is held by KMS: its custody is kms, not envelope")
        }
        Some(id) => adopt_signing_key(kms, store, &id, alg, now, active_from).await?,
        None => {
            let alg = alg.or_else(|| current.last().map(|k| k.jwk.alg)).unwrap_or(DEFAULT_ALGORITHM);
            let custody =
                custody.or_else(|| current.last().map(|k| KeyCustody::of(&k.custody))).unwrap_or(DEFAULT_CUSTODY);
            // The KMS key that sealed the envelope keys before is the one the functions may
            // Decrypt with: a rotation seals with it, whatever data key the caller named.
            let sealed_before = current.iter().rev().find(|k| matches!(k.custody, Custody::Envelope { .. }));
            let data_key_id = sealed_before.map_or(data_key_id, |k| k.kms_key_id.as_str());
            new_signing_key(kms, store, data_key_id, alg, custody, now, active_from).await?
        }
    };
    // Clock skew between containers: keep the old keys a minute longer than strictly needed.
    let retire_at = active_from + token_ttl + 60;
    for old in current.iter().filter(|k| k.kid != new.kid && k.expires_at.is_none_or(|at| at > retire_at)) {
        store.retire_signing_key(&old.kid, retire_at).await?;
    }
    Ok(new)
}

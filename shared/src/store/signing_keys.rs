//! The signing-key registry, `SIGNKEY` / `<kid>`: every published key's public JWK (with the one algorithm it is
//! registered for, `alg`), its custody and KMS key id.
//!
//! Rules: `jwks` and token verification read keys here, never from KMS (`GetPublicKey` allows a
//! few requests per second). A key is published as soon as it is registered and signs from
//! `active_from` on, which rotation sets one cache period ahead so every container has the new
//! key in its JWKS before a token signed by it exists. A retired key gets an `expires_at` after
//! the last token it signed has expired; until then it stays published.

use super::backend::{Store, backend};
use super::item::{Item, ItemContext as _, Key, b, n, s};
use crate::domain::jwk::Jwk;
use crate::domain::signing_key::{Custody, SigningKey};
use crate::error::Error;

/// The partition of the registry: every signing key's item shares it (one `Query` reads all).
const PARTITION: &str = "SIGNKEY";

/// The key of signing key `kid`'s registry item.
pub fn key(kid: &str) -> Key {
    Key::new(PARTITION, kid)
}

impl Store {
    /// Every key still published at `now`, oldest first.
    pub async fn signing_keys(&self, now: i64) -> Result<Vec<SigningKey>, Error> {
        let mut keys = Vec::new();
        let mut pages = self
            .ddb
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(PARTITION))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        while let Some(item) = pages.next().await {
            let item = Item(item.map_err(backend("Query"))?);
            if !item.is_expired(now) {
                keys.push(from_item(&item).reading("signing key")?);
            }
        }
        keys.sort_by_key(|k| (k.active_from, k.created_at));
        Ok(keys)
    }

    /// Registers a key; `false` if that kid was registered already.
    pub async fn register_signing_key(&self, key: &SigningKey) -> Result<bool, Error> {
        self.put_if_absent(to_item(key).map_err(Error::Internal)?).await
    }

    /// Ends a key's publication at `expires_at` (it no longer signs once a newer key is active).
    pub async fn retire_signing_key(&self, kid: &str, expires_at: i64) -> Result<(), Error> {
        self.update_item(key(kid))
            .update_expression("SET expires_at = :at")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":at", n(expires_at))
            .send()
            .await
            .map_err(backend("UpdateItem"))?;
        Ok(())
    }
}

/// The JWK is stored as its JSON text (`jwk`, a string); an envelope key's wrapped private key
/// as `wrapped_private_key` (binary).
fn to_item(key: &SigningKey) -> anyhow::Result<Item> {
    let wrapped = match &key.custody {
        Custody::Envelope { wrapped } => Some(b(wrapped)),
        Custody::Kms => None,
    };
    Ok(Item::keyed(self::key(&key.kid))
        .set("kms_key_id", s(&key.kms_key_id))
        .set("jwk", s(serde_json::to_string(&key.jwk)?))
        .set("created_at", n(key.created_at))
        .set("active_from", n(key.active_from))
        .set("custody", s(key.custody.as_str()))
        .set_opt("wrapped_private_key", wrapped)
        .set_opt("expires_at", key.expires_at.map(n)))
}

fn from_item(item: &Item) -> anyhow::Result<SigningKey> {
    let jwk: Jwk = serde_json::from_str(&item.string("jwk")?)?;
    anyhow::ensure!(jwk.is_consistent(), "its key type does not fit its algorithm {}", jwk.alg);
    // Keys registered before custody existed are KMS-held.
    let custody = match item.opt_string("custody").as_deref() {
        None | Some("kms") => Custody::Kms,
        Some("envelope") => Custody::Envelope { wrapped: item.bytes("wrapped_private_key")? },
        Some(other) => anyhow::bail!("unknown custody {other:?}"),
    };
    Ok(SigningKey {
        kid: item.string("sk")?,
        kms_key_id: item.string("kms_key_id")?,
        custody,
        jwk,
        created_at: item.number("created_at")?,
        active_from: item.number("active_from")?,
        expires_at: item.opt_number("expires_at"),
    })
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::types::AttributeValue;

    use super::*;
    use crate::domain::jwk::{Algorithm, KeyParams};

    fn signing_key(custody: Custody) -> SigningKey {
        SigningKey {
            kid: "k1".into(),
            kms_key_id: "alias/sign".into(),
            custody,
            jwk: Jwk {
                params: KeyParams::Ec { crv: "P-256".into(), x: "eA".into(), y: "eQ".into() },
                kid: "k1".into(),
                use_: "sig".into(),
                alg: Algorithm::ES256,
            },
            created_at: 1,
            active_from: 2,
            expires_at: None,
        }
    }

    #[test]
    fn a_signing_key_round_trips_in_either_custody() {
        for custody in [Custody::Kms, Custody::Envelope { wrapped: vec![1, 2] }] {
            let key = signing_key(custody);
            let item = to_item(&key).expect("maps");
            assert_eq!(from_item(&item).expect("reads"), key);
            let a = item.attributes();
            assert_eq!((&a["pk"], &a["sk"]), (&s("SIGNKEY"), &s("k1")));
            assert!(matches!(a["jwk"], AttributeValue::S(_)), "the JWK's JSON text");
        }
        let item = to_item(&signing_key(Custody::Envelope { wrapped: vec![1] })).expect("maps");
        assert!(matches!(item.attributes()["wrapped_private_key"], AttributeValue::B(_)));
    }

    #[test]
    fn a_key_registered_before_custody_existed_is_kms_held() {
        let mut old = to_item(&signing_key(Custody::Kms)).expect("maps").into_attributes();
        old.remove("custody");
        assert_eq!(from_item(&Item(old)).expect("an older item reads").custody, Custody::Kms);
    }
}

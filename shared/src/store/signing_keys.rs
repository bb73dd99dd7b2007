//! The signing-key registry: every published key's public JWK (with the one algorithm it is
//! registered for, `alg`) and KMS key id.
//!
//! Rules: `jwks` and token verification read keys here, never from KMS (`GetPublicKey` allows a
//! few requests per second). A key is published as soon as it is registered and signs from
//! `active_from` on, which rotation sets one cache period ahead so every container has the new
//! key in its JWKS before a token signed by it exists. A retired key gets an `expires_at` after
//! the last token it signed has expired; until then it stays published.

use super::{Item, ItemContext as _, Store, backend, conditional, n, s};
use crate::keys::jwks::Jwk;
use crate::oauth::error::Error;

/// One registered signing key.
#[derive(Debug, Clone, PartialEq)]
pub struct SigningKey {
    pub kid: String,
    pub kms_key_id: String,
    pub jwk: Jwk,
    pub created_at: i64,
    /// Signs from this instant on (the newest such key signs).
    pub active_from: i64,
    /// Published until then; `None` while it may still sign.
    pub expires_at: Option<i64>,
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
            .expression_attribute_values(":pk", s("SIGNKEY"))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        while let Some(item) = pages.next().await {
            let item = Item(item.map_err(backend("Query"))?);
            if !item.is_expired(now) {
                keys.push(parse(&item).item("signing key")?);
            }
        }
        keys.sort_by_key(|k| (k.active_from, k.created_at));
        Ok(keys)
    }

    /// Registers a key; `false` if that kid was registered already.
    pub async fn register_signing_key(&self, key: &SigningKey) -> Result<bool, Error> {
        let jwk = serde_json::to_string(&key.jwk).map_err(|e| Error::Internal(e.into()))?;
        let mut put = self
            .ddb
            .put_item()
            .table_name(&self.table)
            .item("pk", s("SIGNKEY"))
            .item("sk", s(&key.kid))
            .item("kms_key_id", s(&key.kms_key_id))
            .item("jwk", s(jwk))
            .item("created_at", n(key.created_at))
            .item("active_from", n(key.active_from))
            .condition_expression("attribute_not_exists(pk)");
        if let Some(at) = key.expires_at {
            put = put.item("expires_at", n(at));
        }
        Ok(conditional(put.send().await, "PutItem")?.is_some())
    }

    /// Ends a key's publication at `expires_at` (it no longer signs once a newer key is active).
    pub async fn retire_signing_key(&self, kid: &str, expires_at: i64) -> Result<(), Error> {
        self.ddb
            .update_item()
            .table_name(&self.table)
            .key("pk", s("SIGNKEY"))
            .key("sk", s(kid))
            .update_expression("SET expires_at = :at")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":at", n(expires_at))
            .send()
            .await
            .map_err(backend("UpdateItem"))?;
        Ok(())
    }
}

fn parse(item: &Item) -> anyhow::Result<SigningKey> {
    let jwk: Jwk = serde_json::from_str(&item.string("jwk")?)?;
    anyhow::ensure!(jwk.is_consistent(), "its key type does not fit its algorithm {}", jwk.alg);
    Ok(SigningKey {
        kid: item.string("sk")?,
        kms_key_id: item.string("kms_key_id")?,
        jwk,
        created_at: item.number("created_at")?,
        active_from: item.number("active_from")?,
        expires_at: item.opt_number("expires_at"),
    })
}

//! Refresh tokens and their families (ory/fosite's "token family" rotation, RFC 9700 §4.14.2).
//!
//! Rules:
//! - A token is stored under the SHA-256 of its value, never the value.
//! - A family is one grant: every token rotated from the first shares its id, client, subject
//!   and scope. Revoking the family (`revoked = true`) ends every token in it.
//! - Rotation is one transaction: mark the old token used (only if it was not, and has not
//!   expired), put the new one, and extend the family (only if it is not revoked). Two
//!   concurrent rotations of one token cannot both succeed.
//! - A family has at most one live token: the reuse-grace path retires the successor it
//!   replaces in the same transaction.
//! - Reads check `expires_at` themselves: TTL deletes late.

use std::time::Duration;

use aws_sdk_dynamodb::types::builders::UpdateBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};

use super::backend::{Store, Written, backend, conditional};
use super::item::{Item, ItemContext as _, Key, n, s};
use crate::aws::is_transaction_conflict;
use crate::error::Error;
use crate::scope::Scope;

/// A stored refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    /// [`crate::secret::hash`] of the token.
    pub hash: String,
    pub family_id: String,
    pub client_id: String,
    pub subject: String,
    pub scope: Scope,
    /// When the user signed in for the grant (OpenID Connect `auth_time`), carried through every
    /// rotation; `None` for tokens issued before it was recorded.
    pub auth_time: Option<i64>,
    pub issued_at: i64,
    pub expires_at: i64,
    /// When it was rotated; a token presented after this is reused.
    pub used_at: Option<i64>,
    /// The hash of the token it was rotated into.
    pub replaced_by: Option<String>,
    /// Retired on the reuse-grace path before its holder ever used it: presenting it is reuse,
    /// never a retry.
    pub superseded: bool,
}

/// A token family: one grant and everything rotated from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Family {
    pub id: String,
    pub client_id: String,
    pub subject: String,
    pub revoked: bool,
    pub created_at: i64,
    pub expires_at: i64,
}

fn token_key(hash: &str) -> String {
    format!("RT#{hash}")
}
fn family_key(id: &str) -> String {
    format!("FAMILY#{id}")
}

/// How often a revocation tries again after meeting a transaction in flight (50, 100, 200 and
/// 400 ms apart).
const MAX_CONFLICT_RETRIES: u32 = 4;

impl Store {
    /// Starts a family with its first token.
    pub async fn create_family(&self, family: &Family, first: &RefreshToken) -> Result<(), Error> {
        let family_put = Put::builder()
            .table_name(&self.table)
            .item("pk", s(family_key(&family.id)))
            .item("sk", s("FAMILY"))
            .item("family_id", s(&family.id))
            .item("client_id", s(&family.client_id))
            .item("subject", s(&family.subject))
            .item("revoked", AttributeValue::Bool(false))
            .item("created_at", n(family.created_at))
            .item("expires_at", n(family.expires_at))
            .item("gsi1pk", s(format!("USER#{}", family.subject)))
            .item("gsi1sk", s(format!("FAMILY#{}#{}", family.created_at, family.id)))
            .condition_expression("attribute_not_exists(pk)")
            .build()?;
        let items = vec![TransactWriteItem::builder().put(family_put).build(), self.put_token(first)?];
        match self.transact(items).await? {
            Written::Yes => Ok(()),
            Written::LostRace => Err(Error::Internal(anyhow::anyhow!("a new token family collided with a stored one"))),
        }
    }

    /// The token stored under `hash`, unless absent or expired.
    pub async fn refresh_token(&self, hash: &str, now: i64) -> Result<Option<RefreshToken>, Error> {
        let Some(item) = self.get(Key::new(token_key(hash), "RT"), now).await? else { return Ok(None) };
        parse_token(&item).reading("refresh token").map(Some)
    }

    pub async fn family(&self, id: &str, now: i64) -> Result<Option<Family>, Error> {
        let Some(item) = self.get(Key::new(family_key(id), "FAMILY"), now).await? else { return Ok(None) };
        parse_family(&item).reading("token family").map(Some)
    }

    /// Replaces `old` by `new` in one transaction (see the module rules).
    pub async fn rotate_refresh_token(
        &self,
        old: &RefreshToken,
        new: &RefreshToken,
        now: i64,
    ) -> Result<Written, Error> {
        let mark_used = self
            .update_token(&old.hash)
            .update_expression("SET used_at = :now, replaced_by = :new")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(used_at) AND expires_at > :now")
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":new", s(&new.hash));
        self.write_into_family(vec![mark_used], new).await
    }

    /// The reuse-grace path: `old` was rotated into `successor` moments ago and is presented
    /// again (a client retrying after a lost response). `new` takes `successor`'s place, which
    /// is retired in the same transaction unless it was used meanwhile.
    pub async fn replace_successor(
        &self,
        old: &RefreshToken,
        successor: &str,
        new: &RefreshToken,
        now: i64,
    ) -> Result<Written, Error> {
        let repoint = self
            .update_token(&old.hash)
            .update_expression("SET replaced_by = :new")
            .condition_expression("replaced_by = :successor")
            .expression_attribute_values(":successor", s(successor))
            .expression_attribute_values(":new", s(&new.hash));
        let retire = self
            .update_token(successor)
            .update_expression("SET used_at = :now, replaced_by = :new, superseded = :true")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(used_at)")
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":new", s(&new.hash));
        self.write_into_family(vec![repoint, retire], new).await
    }

    fn update_token(&self, hash: &str) -> UpdateBuilder {
        Update::builder().table_name(&self.table).key("pk", s(token_key(hash))).key("sk", s("RT"))
    }

    /// `updates`, the put of `new`, and the family's extension, all or nothing; the family
    /// must not be revoked.
    async fn write_into_family(&self, updates: Vec<UpdateBuilder>, new: &RefreshToken) -> Result<Written, Error> {
        let extend_family = Update::builder()
            .table_name(&self.table)
            .key("pk", s(family_key(&new.family_id)))
            .key("sk", s("FAMILY"))
            .update_expression("SET expires_at = :exp")
            .condition_expression("attribute_exists(pk) AND revoked = :false")
            .expression_attribute_values(":exp", n(new.expires_at))
            .expression_attribute_values(":false", AttributeValue::Bool(false));
        let mut items = Vec::with_capacity(updates.len() + 2);
        for update in updates.into_iter().chain([extend_family]) {
            let update = update.build()?;
            items.push(TransactWriteItem::builder().update(update).build());
        }
        items.push(self.put_token(new)?);
        self.transact(items).await
    }

    /// Revokes every token of the family. Idempotent.
    pub async fn revoke_family(&self, id: &str, now: i64) -> Result<(), Error> {
        // A revocation must not fail open: when it meets a rotation of the same family in
        // flight, DynamoDB refuses it (TransactionConflictException, which the SDK does not
        // retry). The rotation is over in milliseconds; try again, then give up as a 503.
        let mut conflicts = 0;
        loop {
            let result = self
                .ddb
                .update_item()
                .table_name(&self.table)
                .key("pk", s(family_key(id)))
                .key("sk", s("FAMILY"))
                .update_expression("SET revoked = :true, revoked_at = if_not_exists(revoked_at, :now)")
                .condition_expression("attribute_exists(pk)")
                .expression_attribute_values(":true", AttributeValue::Bool(true))
                .expression_attribute_values(":now", n(now))
                .send()
                .await;
            match result {
                Err(e) if is_transaction_conflict(&e) && conflicts < MAX_CONFLICT_RETRIES => {
                    conflicts += 1;
                    tokio::time::sleep(Duration::from_millis(25 << conflicts)).await;
                }
                result => {
                    conditional(result, "UpdateItem")?; // a failed condition: gone already, nothing to revoke
                    return Ok(());
                }
            }
        }
    }

    /// Revokes every token family of `user_id` (revoke-all: a stolen phone, a deleted account).
    /// The `gsi1` index lists them; it is eventually consistent, so a family created in the last
    /// moment may be missed. Returns how many families were revoked.
    pub async fn revoke_user_families(&self, user_id: &str, now: i64) -> Result<usize, Error> {
        let mut pages = self
            .ddb
            .query()
            .table_name(&self.table)
            .index_name("gsi1")
            .key_condition_expression("gsi1pk = :user")
            .expression_attribute_values(":user", s(format!("USER#{user_id}")))
            .into_paginator()
            .items()
            .send();
        let mut revoked = 0;
        while let Some(item) = pages.next().await {
            let pk = Item(item.map_err(backend("Query"))?).string("pk").reading("token family index entry")?;
            if let Some(family_id) = pk.strip_prefix("FAMILY#") {
                self.revoke_family(family_id, now).await?;
                revoked += 1;
            }
        }
        Ok(revoked)
    }

    fn put_token(&self, token: &RefreshToken) -> Result<TransactWriteItem, Error> {
        let put = Put::builder()
            .table_name(&self.table)
            .item("pk", s(token_key(&token.hash)))
            .item("sk", s("RT"))
            .item("family_id", s(&token.family_id))
            .item("client_id", s(&token.client_id))
            .item("subject", s(&token.subject))
            .item("scope", s(token.scope.to_string()))
            .item("issued_at", n(token.issued_at))
            .item("expires_at", n(token.expires_at))
            .condition_expression("attribute_not_exists(pk)");
        let put = match token.auth_time {
            Some(at) => put.item("auth_time", n(at)),
            None => put,
        };
        Ok(TransactWriteItem::builder().put(put.build()?).build())
    }
}

fn parse_token(item: &Item) -> anyhow::Result<RefreshToken> {
    let pk = item.string("pk")?;
    Ok(RefreshToken {
        hash: pk.trim_start_matches("RT#").to_string(),
        family_id: item.string("family_id")?,
        client_id: item.string("client_id")?,
        subject: item.string("subject")?,
        scope: Scope::parse(&item.string("scope")?).map_err(|_| anyhow::anyhow!("stored scope is malformed"))?,
        auth_time: item.opt_number("auth_time"),
        issued_at: item.number("issued_at")?,
        expires_at: item.number("expires_at")?,
        used_at: item.opt_number("used_at"),
        replaced_by: item.opt_string("replaced_by"),
        superseded: item.opt_bool("superseded").unwrap_or(false),
    })
}

fn parse_family(item: &Item) -> anyhow::Result<Family> {
    Ok(Family {
        id: item.string("family_id")?,
        client_id: item.string("client_id")?,
        subject: item.string("subject")?,
        revoked: item.opt_bool("revoked").unwrap_or(false),
        created_at: item.number("created_at")?,
        expires_at: item.number("expires_at")?,
    })
}

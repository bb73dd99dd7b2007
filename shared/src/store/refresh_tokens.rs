//! Refresh tokens (`RT#<sha256(token)>` / `RT`) and their families (`FAMILY#<family_id>` /
//! `FAMILY`): ory/fosite's "token family" rotation, RFC 9700 §4.14.2.
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
use aws_sdk_dynamodb::types::{Put, TransactWriteItem, Update};

use super::backend::{Store, Written, conditional};
use super::item::{Item, ItemContext as _, Key, boolean, n, s};
use super::users;
use crate::aws::is_transaction_conflict;
use crate::domain::browser_session::SignInMethod;
use crate::domain::refresh_token::{Family, RefreshToken};
use crate::error::Error;
use crate::scope::Scope;

const TOKEN_PREFIX: &str = "RT#";
const FAMILY_PREFIX: &str = "FAMILY#";

/// The key of the refresh token whose [`crate::secret::hash`] is `hash`.
pub fn token_key(hash: &str) -> Key {
    Key::new(format!("{TOKEN_PREFIX}{hash}"), "RT")
}

/// The key of token family `id`.
pub fn family_key(id: &str) -> Key {
    Key::new(format!("{FAMILY_PREFIX}{id}"), "FAMILY")
}

/// How often a revocation tries again after meeting a transaction in flight (50, 100, 200 and
/// 400 ms apart).
const MAX_CONFLICT_RETRIES: u32 = 4;

impl Store {
    /// Starts a family with its first token.
    pub async fn create_family(&self, family: &Family, first: &RefreshToken) -> Result<(), Error> {
        let family_put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(family_to_item(family).into_attributes()))
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
        let Some(item) = self.get(token_key(hash), now).await? else { return Ok(None) };
        token_from_item(&item).reading("refresh token").map(Some)
    }

    pub async fn family(&self, id: &str, now: i64) -> Result<Option<Family>, Error> {
        let Some(item) = self.get(family_key(id), now).await? else { return Ok(None) };
        family_from_item(&item).reading("token family").map(Some)
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
            .expression_attribute_values(":true", boolean(true))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":new", s(&new.hash));
        self.write_into_family(vec![repoint, retire], new).await
    }

    fn update_token(&self, hash: &str) -> UpdateBuilder {
        Update::builder().table_name(&self.table).set_key(Some(token_key(hash).attributes()))
    }

    /// `updates`, the put of `new`, and the family's extension, all or nothing; the family
    /// must not be revoked.
    async fn write_into_family(&self, updates: Vec<UpdateBuilder>, new: &RefreshToken) -> Result<Written, Error> {
        let extend_family = Update::builder()
            .table_name(&self.table)
            .set_key(Some(family_key(&new.family_id).attributes()))
            .update_expression("SET expires_at = :exp")
            .condition_expression("attribute_exists(pk) AND revoked = :false")
            .expression_attribute_values(":exp", n(new.expires_at))
            .expression_attribute_values(":false", boolean(false));
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
                .update_item(family_key(id))
                .update_expression("SET revoked = :true, revoked_at = if_not_exists(revoked_at, :now)")
                .condition_expression("attribute_exists(pk)")
                .expression_attribute_values(":true", boolean(true))
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
        let mut revoked = 0;
        for pk in self.indexed_under(users::key(user_id).pk, FAMILY_PREFIX).await? {
            if let Some(family_id) = pk.strip_prefix(FAMILY_PREFIX) {
                self.revoke_family(family_id, now).await?;
                revoked += 1;
            }
        }
        Ok(revoked)
    }

    /// Revokes the families of `user_id` bound to the browser session `sid` (its logout); how
    /// many. One index query, then a read of each of the user's families.
    pub async fn revoke_session_families(&self, user_id: &str, sid: &str, now: i64) -> Result<usize, Error> {
        let mut revoked = 0;
        for pk in self.indexed_under(users::key(user_id).pk, FAMILY_PREFIX).await? {
            let Some(family_id) = pk.strip_prefix(FAMILY_PREFIX) else { continue };
            let bound = self.family(family_id, now).await?.is_some_and(|f| f.session_sid.as_deref() == Some(sid));
            if bound {
                self.revoke_family(family_id, now).await?;
                revoked += 1;
            }
        }
        Ok(revoked)
    }

    fn put_token(&self, token: &RefreshToken) -> Result<TransactWriteItem, Error> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(token_to_item(token).into_attributes()))
            .condition_expression("attribute_not_exists(pk)");
        Ok(TransactWriteItem::builder().put(put.build()?).build())
    }
}

/// A token as it is first put. `used_at`, `replaced_by` and `superseded` are only ever set by
/// the rotation's updates, never put.
fn token_to_item(token: &RefreshToken) -> Item {
    Item::keyed(token_key(&token.hash))
        .set("family_id", s(&token.family_id))
        .set("client_id", s(&token.client_id))
        .set("subject", s(&token.subject))
        .set("scope", s(token.scope.to_string()))
        .set("issued_at", n(token.issued_at))
        .set("expires_at", n(token.expires_at))
        .set_opt("auth_time", token.auth_time.map(n))
        .set_opt("sid", token.sid.as_ref().map(s))
        .set_opt("amr", token.method.map(|m| s(m.amr())))
        .set_opt("used_at", token.used_at.map(n))
        .set_opt("replaced_by", token.replaced_by.as_ref().map(s))
        .set_opt("superseded", token.superseded.then_some(boolean(true)))
}

/// The token's hash is its key's; tokens issued before `auth_time` was recorded have none.
fn token_from_item(item: &Item) -> anyhow::Result<RefreshToken> {
    Ok(RefreshToken {
        hash: item.string_after("pk", TOKEN_PREFIX)?,
        family_id: item.string("family_id")?,
        client_id: item.string("client_id")?,
        subject: item.string("subject")?,
        scope: Scope::parse(&item.string("scope")?).map_err(|_| anyhow::anyhow!("stored scope is malformed"))?,
        auth_time: item.opt_number("auth_time"),
        sid: item.opt_string("sid"),
        method: item.opt_string("amr").and_then(|amr| SignInMethod::from_amr(&amr)),
        issued_at: item.number("issued_at")?,
        expires_at: item.number("expires_at")?,
        used_at: item.opt_number("used_at"),
        replaced_by: item.opt_string("replaced_by"),
        superseded: item.opt_bool("superseded").unwrap_or(false),
    })
}

/// A family as it is first put, indexed under its user (`gsi1`) for revoke-all.
fn family_to_item(family: &Family) -> Item {
    Item::keyed(family_key(&family.id))
        .set("family_id", s(&family.id))
        .set("client_id", s(&family.client_id))
        .set("subject", s(&family.subject))
        .set_opt("session_sid", family.session_sid.as_ref().map(s))
        .set("revoked", boolean(family.revoked))
        .set("created_at", n(family.created_at))
        .set("expires_at", n(family.expires_at))
        .set("gsi1pk", s(users::key(&family.subject).pk))
        .set("gsi1sk", s(format!("{FAMILY_PREFIX}{}#{}", family.created_at, family.id)))
}

fn family_from_item(item: &Item) -> anyhow::Result<Family> {
    Ok(Family {
        id: item.string("family_id")?,
        client_id: item.string("client_id")?,
        subject: item.string("subject")?,
        session_sid: item.opt_string("session_sid"),
        revoked: item.opt_bool("revoked").unwrap_or(false),
        created_at: item.number("created_at")?,
        expires_at: item.number("expires_at")?,
    })
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::types::AttributeValue;

    use super::*;

    fn token() -> RefreshToken {
        RefreshToken {
            hash: "h1".into(),
            family_id: "f1".into(),
            client_id: "c1".into(),
            subject: "u1".into(),
            scope: Scope::parse("openid").expect("scope"),
            auth_time: Some(5),
            sid: None,
            method: None,
            issued_at: 10,
            expires_at: 20,
            used_at: None,
            replaced_by: None,
            superseded: false,
        }
    }

    #[test]
    fn a_refresh_token_round_trips_keyed_by_its_hash() {
        let token = token();
        let item = token_to_item(&token);
        assert_eq!(from(&item), token);
        let a = item.attributes();
        assert_eq!((&a["pk"], &a["sk"]), (&s("RT#h1"), &s("RT")));
        assert!(!a.contains_key("hash"), "the hash is the key's, not an attribute");
        assert_eq!(a["issued_at"], AttributeValue::N("10".into()));
        let mut names: Vec<&str> = a.keys().map(String::as_str).collect();
        names.sort_unstable();
        let expected =
            ["auth_time", "client_id", "expires_at", "family_id", "issued_at", "pk", "scope", "sk", "subject"];
        assert_eq!(names, expected);
        let rotated = RefreshToken { used_at: Some(15), replaced_by: Some("h2".into()), superseded: true, ..token };
        assert_eq!(from(&token_to_item(&rotated)), rotated);
        let in_session = RefreshToken { sid: Some("sid1".into()), method: Some(SignInMethod::Password), ..rotated };
        assert_eq!(from(&token_to_item(&in_session)), in_session);
    }

    fn from(item: &Item) -> RefreshToken {
        token_from_item(item).expect("reads")
    }

    #[test]
    fn a_token_from_before_auth_time_still_reads() {
        let mut old = token_to_item(&token()).into_attributes();
        old.remove("auth_time");
        assert_eq!(from(&Item(old)).auth_time, None);
    }

    #[test]
    fn a_family_round_trips_with_its_index_keys() {
        let family = Family {
            id: "f1".into(),
            client_id: "c1".into(),
            subject: "u1".into(),
            session_sid: Some("sid1".into()),
            revoked: false,
            created_at: 3,
            expires_at: 9,
        };
        let item = family_to_item(&family);
        assert_eq!(family_from_item(&item).expect("reads"), family);
        let a = item.attributes();
        assert_eq!((&a["pk"], &a["sk"]), (&s("FAMILY#f1"), &s("FAMILY")));
        assert_eq!((&a["gsi1pk"], &a["gsi1sk"]), (&s("USER#u1"), &s("FAMILY#3#f1")));
        assert_eq!(a["revoked"], AttributeValue::Bool(false));
    }
}

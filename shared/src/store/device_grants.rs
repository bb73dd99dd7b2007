//! Device authorization grants (RFC 8628), `DEVICE#<sha256(device_code)>` / `DEVICE`, and the
//! lookup of each by its user code, `USERCODE#<sha256(user_code)>` / `USERCODE`.
//!
//! Rules:
//! - Both are stored under hashes, never the codes. (A user code has 34.5 bits: a leaked table
//!   could be searched for the few live ones, but still names no device code.)
//! - A grant and its user code are created together, in one transaction of conditional puts: the
//!   grant's key is new (the hash of 256 random bits), and the user code is taken by no live
//!   grant (`attribute_not_exists(pk) OR expires_at <= :now`: a dead one is reused). A taken
//!   user code cancels the transaction, and the caller draws another. Both live 10 minutes
//!   ([`DEVICE_CODE_TTL_SECONDS`](crate::domain::device_grant::DEVICE_CODE_TTL_SECONDS)).
//! - A poll is one conditional `UpdateItem`: it counts only for the grant's own client, before
//!   it expires, not before `next_poll_at` and not once redeemed, and then moves `next_poll_at`
//!   one interval on and returns the grant as it is (`ALL_NEW`); a poll that does not count
//!   returns the grant as it was (`ReturnValuesOnConditionCheckFailure = ALL_OLD`), so the caller
//!   can tell why without a second read. `slow_down` adds to the interval for this and every
//!   later poll (a second write, for a device that polls too fast).
//! - The user answers once: `pending` becomes `approved` (with the user, the sign-in and the
//!   scope granted) or `denied` by a conditional update, marked (`answered_by`) with the
//!   approving session's `sid` or a denial's own random value, so that the SDK's retry of a
//!   write whose answer was lost, or the same session approving again, is recognised as ours.
//! - An approved grant is redeemed once: a conditional update marks it (`redeemed_by`, the same
//!   way); a concurrent poll that loses gets `invalid_grant`.
//! - Reads check `expires_at` themselves: TTL deletes late.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{
    AttributeValue, Put, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};

use super::backend::{Store, Written, backend, is_condition_failure};
use super::item::{Item, ItemContext as _, Key, n, s};
use crate::domain::browser_session::SignInMethod;
use crate::domain::device_grant::{DeviceApproval, DeviceGrant, DeviceStatus, SLOW_DOWN_SECONDS, UserCode};
use crate::error::Error;
use crate::scope::Scope;
use crate::secret::{hash, random_id};

const GRANT_PREFIX: &str = "DEVICE#";
const USER_CODE_PREFIX: &str = "USERCODE#";

/// The key of the grant whose device code hashes to `hash`.
pub fn grant_key(hash: &str) -> Key {
    Key::new(format!("{GRANT_PREFIX}{hash}"), "DEVICE")
}

/// The key of the lookup item of `user_code`.
pub fn user_code_key(user_code: &UserCode) -> Key {
    Key::new(format!("{USER_CODE_PREFIX}{}", hash(user_code.as_str())), "USERCODE")
}

/// How a device's poll was taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Polled {
    /// It counted: the grant as it is now (its next poll one interval away).
    Counted(DeviceGrant),
    /// It did not (another client's, expired, redeemed, or too early): the grant as it was;
    /// `None` when there is none.
    Refused(Option<DeviceGrant>),
}

impl Store {
    /// Puts `grant` and the lookup item of `user_code` in one transaction; `LostRace` when a live
    /// grant holds that user code (draw another).
    pub async fn create_device_grant(
        &self,
        grant: &DeviceGrant,
        user_code: &UserCode,
        now: i64,
    ) -> Result<Written, Error> {
        let put_grant = Put::builder()
            .table_name(&self.table)
            .set_item(Some(to_item(grant).into_attributes()))
            .condition_expression("attribute_not_exists(pk)")
            .build()?;
        let lookup = Item::keyed(user_code_key(user_code))
            .set("device_hash", s(&grant.hash))
            .set("expires_at", n(grant.expires_at));
        let put_lookup = Put::builder()
            .table_name(&self.table)
            .set_item(Some(lookup.into_attributes()))
            .condition_expression("attribute_not_exists(pk) OR expires_at <= :now")
            .expression_attribute_values(":now", n(now))
            .build()?;
        self.transact(vec![
            TransactWriteItem::builder().put(put_grant).build(),
            TransactWriteItem::builder().put(put_lookup).build(),
        ])
        .await
    }

    /// The grant `user_code` names, answered or not, unless unknown or expired: two reads (the
    /// lookup, then the grant).
    pub async fn device_grant_by_user_code(
        &self,
        user_code: &UserCode,
        now: i64,
    ) -> Result<Option<DeviceGrant>, Error> {
        let Some(lookup) = self.get(user_code_key(user_code), now).await? else { return Ok(None) };
        let device_hash = lookup.string("device_hash").reading("user code")?;
        self.device_grant(&device_hash, now).await
    }

    /// The grant whose device code hashes to `hash`, unless absent or expired.
    pub async fn device_grant(&self, hash: &str, now: i64) -> Result<Option<DeviceGrant>, Error> {
        let Some(item) = self.get(grant_key(hash), now).await? else { return Ok(None) };
        from_item(&item).reading("device grant").map(Some)
    }

    /// A poll of the grant hashing to `hash` by `client_id` (RFC 8628 §3.4): one `UpdateItem`.
    pub async fn poll_device_grant(&self, hash: &str, client_id: &str, now: i64) -> Result<Polled, Error> {
        let update = self
            .update_item(grant_key(hash))
            // Every operand reads the item as it was: the next poll is one (old) interval away.
            .update_expression("SET next_poll_at = poll_interval + :now")
            .condition_expression(
                "attribute_exists(pk) AND client_id = :client AND expires_at > :now AND next_poll_at <= :now \
                 AND attribute_not_exists(redeemed_by)",
            )
            .expression_attribute_values(":client", s(client_id))
            .expression_attribute_values(":now", n(now))
            .return_values(ReturnValue::AllNew);
        Ok(match updated(update).await? {
            Updated::Yes(item) => Polled::Counted(from_item(&item).reading("device grant")?),
            Updated::No(old) => Polled::Refused(old.map(|item| from_item(&item)).transpose().reading("device grant")?),
        })
    }

    /// `slow_down` (§3.5): the interval grows by [`SLOW_DOWN_SECONDS`], and the next poll that
    /// counts is one new interval away.
    pub async fn slow_down_device_grant(&self, hash: &str, now: i64) -> Result<(), Error> {
        let update = self
            .update_item(grant_key(hash))
            .update_expression("SET poll_interval = poll_interval + :step, next_poll_at = poll_interval + :later")
            .condition_expression("attribute_exists(pk) AND expires_at > :now")
            .expression_attribute_values(":step", n(SLOW_DOWN_SECONDS))
            .expression_attribute_values(":later", n(now + SLOW_DOWN_SECONDS))
            .expression_attribute_values(":now", n(now));
        // Lost: the grant expired meanwhile; its next poll says so.
        updated(update).await.map(drop)
    }

    /// The user's answer to the pending grant hashing to `hash`: `Approved` or `Denied`.
    /// `LostRace` when it was answered already (or expired) meanwhile. An approval is marked
    /// with its session's `sid`: the same session approving again (WeChat repeating its callback)
    /// reads as done, as the SDK's retry does.
    pub async fn answer_device_grant(&self, hash: &str, answer: &DeviceStatus, now: i64) -> Result<Written, Error> {
        let mark = match answer {
            DeviceStatus::Approved(DeviceApproval { sid: Some(sid), .. }) => sid.clone(),
            _ => random_id(),
        };
        let mut update = self
            .update_item(grant_key(hash))
            .condition_expression("attribute_exists(pk) AND device_status = :pending AND expires_at > :now")
            .expression_attribute_values(":pending", s(DeviceStatus::Pending.as_str()))
            .expression_attribute_values(":status", s(answer.as_str()))
            .expression_attribute_values(":mark", s(&mark))
            .expression_attribute_values(":now", n(now));
        update = match answer {
            DeviceStatus::Approved(approval) => {
                let mut set = String::from(
                    "SET device_status = :status, answered_by = :mark, subject = :subject, auth_time = :auth_time, \
                     amr = :amr, granted_scope = :scope, approved_at = :now",
                );
                if let Some(sid) = &approval.sid {
                    set.push_str(", sid = :sid");
                    update = update.expression_attribute_values(":sid", s(sid));
                }
                update
                    .update_expression(set)
                    .expression_attribute_values(":subject", s(&approval.subject))
                    .expression_attribute_values(":auth_time", n(approval.auth_time))
                    .expression_attribute_values(":amr", s(approval.method.amr()))
                    .expression_attribute_values(":scope", s(approval.scope.to_string()))
            }
            DeviceStatus::Denied => update.update_expression("SET device_status = :status, answered_by = :mark"),
            // Nothing to answer with: the caller's mistake, and nothing is written.
            DeviceStatus::Pending => return Ok(Written::LostRace),
        };
        Ok(match updated(update).await? {
            Updated::Yes(_) => Written::Yes,
            Updated::No(old) => marked(old.as_ref(), "answered_by", &mark),
        })
    }

    /// Redeems the approved grant hashing to `hash` for tokens; `LostRace` when it is not
    /// approved, expired, or redeemed already (a concurrent poll won).
    pub async fn redeem_device_grant(&self, hash: &str, now: i64) -> Result<Written, Error> {
        let mark = random_id();
        let update = self
            .update_item(grant_key(hash))
            .update_expression("SET redeemed_by = :mark, redeemed_at = :now")
            .condition_expression(
                "attribute_exists(pk) AND device_status = :approved AND expires_at > :now \
                 AND attribute_not_exists(redeemed_by)",
            )
            .expression_attribute_values(":approved", s("approved"))
            .expression_attribute_values(":mark", s(&mark))
            .expression_attribute_values(":now", n(now));
        Ok(match updated(update).await? {
            Updated::Yes(_) => Written::Yes,
            Updated::No(old) => marked(old.as_ref(), "redeemed_by", &mark),
        })
    }
}

/// How a conditional update ended: the item after it, or (its condition failed) the item before
/// it, if there was one.
enum Updated {
    Yes(Item),
    No(Option<Item>),
}

/// Sends a conditional update that returns the item either way.
async fn updated(update: UpdateItemFluentBuilder) -> Result<Updated, Error> {
    let update = update.return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
    match update.send().await {
        Ok(out) => Ok(Updated::Yes(Item(out.attributes.unwrap_or_default()))),
        Err(e) if is_condition_failure(&e) => {
            let old: Option<HashMap<String, AttributeValue>> = match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => failed.item().cloned(),
                _ => None,
            };
            Ok(Updated::No(old.map(Item)))
        }
        Err(e) => Err(backend("UpdateItem")(e)),
    }
}

/// After a conditional update that failed: `Yes` when the item carries this attempt's `mark` in
/// `attribute` all the same (the SDK's retry of our own write, whose first answer was lost).
fn marked(old: Option<&Item>, attribute: &str, mark: &str) -> Written {
    if old.is_some_and(|item| item.opt_string(attribute).as_deref() == Some(mark)) {
        Written::Yes
    } else {
        Written::LostRace
    }
}

/// A grant as it is first put: pending. Its answer (`device_status`, `answered_by`, `subject`,
/// `auth_time`, `amr`, `sid`, `granted_scope`, `approved_at`), `poll_interval` and
/// `next_poll_at` after the first poll, and its redemption (`redeemed_by`, `redeemed_at`) are only
/// ever written by the conditional updates above.
fn to_item(grant: &DeviceGrant) -> Item {
    Item::keyed(grant_key(&grant.hash))
        .set("client_id", s(&grant.client_id))
        .set("scope", s(grant.scope.to_string()))
        .set("device_status", s(grant.status.as_str()))
        .set("poll_interval", n(grant.interval))
        .set("next_poll_at", n(grant.next_poll_at))
        .set("expires_at", n(grant.expires_at))
}

fn parse_scope(item: &Item, attribute: &str) -> anyhow::Result<Scope> {
    Scope::parse(&item.opt_string(attribute).unwrap_or_default())
        .map_err(|_| anyhow::anyhow!("stored {attribute} is malformed"))
}

fn from_item(item: &Item) -> anyhow::Result<DeviceGrant> {
    let status = match item.string("device_status")?.as_str() {
        "pending" => DeviceStatus::Pending,
        "denied" => DeviceStatus::Denied,
        "approved" => {
            let amr = item.string("amr")?;
            DeviceStatus::Approved(DeviceApproval {
                subject: item.string("subject")?,
                auth_time: item.number("auth_time")?,
                method: SignInMethod::from_amr(&amr).ok_or_else(|| anyhow::anyhow!("unknown amr {amr:?}"))?,
                sid: item.opt_string("sid"),
                scope: parse_scope(item, "granted_scope")?,
            })
        }
        other => anyhow::bail!("unknown device grant status {other:?}"),
    };
    Ok(DeviceGrant {
        hash: item.string_after("pk", GRANT_PREFIX)?,
        client_id: item.string("client_id")?,
        scope: parse_scope(item, "scope")?,
        status,
        interval: item.number("poll_interval")?,
        next_poll_at: item.number("next_poll_at")?,
        redeemed: item.opt_string("redeemed_by").is_some(),
        expires_at: item.number("expires_at")?,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn pending() -> DeviceGrant {
        DeviceGrant {
            hash: "h".into(),
            client_id: "tv".into(),
            scope: Scope::parse("openid profile").unwrap(),
            status: DeviceStatus::Pending,
            interval: 5,
            next_poll_at: 100,
            redeemed: false,
            expires_at: 700,
        }
    }

    #[test]
    fn a_pending_grant_round_trips_keyed_by_its_hash() {
        let item = to_item(&pending());
        assert_eq!((item.string("pk").unwrap(), item.string("sk").unwrap()), ("DEVICE#h".into(), "DEVICE".into()));
        let mut names: Vec<&str> = item.attributes().keys().map(String::as_str).collect();
        names.sort_unstable();
        let expected =
            ["client_id", "device_status", "expires_at", "next_poll_at", "pk", "poll_interval", "scope", "sk"];
        assert_eq!(names, expected);
        assert_eq!(from_item(&item).unwrap(), pending());
    }

    #[test]
    fn an_answered_and_redeemed_grant_reads_back() {
        let item = to_item(&pending())
            .set("device_status", s("approved"))
            .set("subject", s("u1"))
            .set("auth_time", n(90))
            .set("amr", s("pwd"))
            .set("sid", s("sid1"))
            .set("granted_scope", s("openid"))
            .set("redeemed_by", s("m"));
        let approval = DeviceApproval {
            subject: "u1".into(),
            auth_time: 90,
            method: SignInMethod::Password,
            sid: Some("sid1".into()),
            scope: Scope::parse("openid").unwrap(),
        };
        let grant = from_item(&item).unwrap();
        assert_eq!(grant.status, DeviceStatus::Approved(approval));
        assert!(grant.redeemed);
        let denied = to_item(&pending()).set("device_status", s("denied"));
        assert_eq!(from_item(&denied).unwrap().status, DeviceStatus::Denied);
        assert!(from_item(&to_item(&pending()).set("device_status", s("maybe"))).is_err());
    }

    #[test]
    fn a_user_code_is_keyed_by_the_hash_of_its_letters() {
        let code = UserCode::parse("bcdf-ghjk").unwrap();
        assert_eq!(user_code_key(&code).pk, format!("USERCODE#{}", hash("BCDFGHJK")));
        assert_eq!(user_code_key(&code).sk, "USERCODE");
    }

    #[test]
    fn only_our_own_mark_turns_a_failed_condition_into_a_write() {
        let ours = Item::keyed(grant_key("h")).set("answered_by", s("m1"));
        assert_eq!(marked(Some(&ours), "answered_by", "m1"), Written::Yes);
        assert_eq!(marked(Some(&ours), "answered_by", "m2"), Written::LostRace);
        assert_eq!(marked(None, "answered_by", "m1"), Written::LostRace);
    }
}

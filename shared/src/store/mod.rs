//! DynamoDB: one table, one module per item kind.
//!
//! # Schema
//! Keys `pk` and `sk` (strings); TTL on `expires_at` (epoch seconds). DynamoDB deletes expired
//! items late (up to days), so **every read checks `expires_at` itself**. One GSI, `gsi1`
//! (`gsi1pk`/`gsi1sk`), lists a user's token families for "revoke everything of this user".
//!
//! | item | pk | sk | notes |
//! |---|---|---|---|
//! | client | `CLIENT#<client_id>` | `CLIENT` | secret only as a hash; WeChat app secret KMS-encrypted |
//! | user | `USER#<user_id>` | `USER` | `openids` map appid -> openid, `unionid` |
//! | openid -> user | `OPENID#<appid>#<openid>` | `MAP` | created with the user in one transaction |
//! | unionid -> user | `UNIONID#<unionid>` | `MAP` | " |
//! | refresh token | `RT#<sha256(token)>` | `RT` | family, client, subject, scope, `used_at` once rotated |
//! | token family | `FAMILY#<family_id>` | `FAMILY` | `revoked`; `gsi1pk = USER#<sub>` |
//! | WeChat session key | `WXSK#<appid>#<openid>` | `WXSK` | current and previous key, KMS-encrypted |
//! | signing key | `SIGNKEY` | `<kid>` | public JWK, KMS key id, `active_from` |
//! | revoked access token | `JTI#<jti>` | `JTI` | until the token's `exp` |
//! | username -> user | `USERNAME#<username>` | `MAP` | lowercased username; the argon2id hash is the user's `password_hash` |
//! | password failures | `PWFAIL#<username>` | `PWFAIL` | until the window and the lock are over |
//! | pending sign-in request | `AUTHZ#<sha256(id)>` | `AUTHZ` | 10 minutes, consumed once |
//! | authorization code | `CODE#<sha256(code)>` | `CODE` | 60 seconds, redeemed once; records what it issued |
//! | WeChat server access token | `WXTOKEN#<appid>` | `WXTOKEN` | KMS-encrypted, until 5 minutes before it expires |
//!
//! Items are written with conditions (`attribute_not_exists(pk)`) or in transactions, so two
//! concurrent requests can never both win a race (first login, rotation, single use).

pub mod authorizations;
pub mod client_cache;
pub mod clients;
pub mod password_failures;
pub mod passwords;
pub mod refresh_tokens;
pub mod revoked_tokens;
pub mod server_tokens;
pub mod session_keys;
pub mod signing_keys;
pub mod table;
pub mod users;

use std::collections::HashMap;

use anyhow::{Context as _, anyhow};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};

use crate::error::Error;

/// The table and the client that reaches it.
#[derive(Clone, Debug)]
pub struct Store {
    ddb: Client,
    table: String,
}

impl Store {
    pub fn new(ddb: Client, table: impl Into<String>) -> Self {
        Self { ddb, table: table.into() }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// The DynamoDB client, for administration and tests.
    pub fn dynamodb(&self) -> &Client {
        &self.ddb
    }

    /// An item that never expires (clients, users, mappings), `None` when absent.
    async fn get_permanent(&self, pk: String, sk: &str) -> Result<Option<Item>, Error> {
        self.get_raw(pk, sk).await
    }

    /// An item with a lifetime, `None` when absent or past its `expires_at`.
    async fn get(&self, pk: String, sk: &str, now: i64) -> Result<Option<Item>, Error> {
        Ok(self.get_raw(pk, sk).await?.filter(|item| !item.is_expired(now)))
    }

    async fn get_raw(&self, pk: String, sk: &str) -> Result<Option<Item>, Error> {
        let out = self
            .ddb
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(backend("GetItem"))?;
        Ok(out.item.map(Item))
    }
}

/// Shorthand for a string attribute.
/// A request builder missing a required field: our bug, never the client's.
impl From<aws_sdk_dynamodb::error::BuildError> for Error {
    fn from(e: aws_sdk_dynamodb::error::BuildError) -> Self {
        Error::Internal(e.into())
    }
}

pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// Shorthand for a number attribute.
pub(crate) fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// An item read back, with typed getters that fail loudly on a malformed item.
#[derive(Debug, Clone)]
pub(crate) struct Item(HashMap<String, AttributeValue>);

impl Item {
    pub(crate) fn string(&self, name: &str) -> anyhow::Result<String> {
        self.opt_string(name).ok_or_else(|| anyhow!("item attribute `{name}` is missing or not a string"))
    }

    pub(crate) fn opt_string(&self, name: &str) -> Option<String> {
        self.0.get(name).and_then(|v| v.as_s().ok()).cloned()
    }

    pub(crate) fn number(&self, name: &str) -> anyhow::Result<i64> {
        self.opt_number(name).ok_or_else(|| anyhow!("item attribute `{name}` is missing or not a number"))
    }

    pub(crate) fn opt_number(&self, name: &str) -> Option<i64> {
        self.0.get(name).and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok())
    }

    pub(crate) fn opt_bytes(&self, name: &str) -> Option<Vec<u8>> {
        self.0.get(name).and_then(|v| v.as_b().ok()).map(|b| b.as_ref().to_vec())
    }

    pub(crate) fn opt_bool(&self, name: &str) -> Option<bool> {
        self.0.get(name).and_then(|v| v.as_bool().ok()).copied()
    }

    pub(crate) fn bool(&self, name: &str) -> bool {
        self.0.get(name).and_then(|v| v.as_bool().ok()).copied().unwrap_or(false)
    }

    pub(crate) fn string_list(&self, name: &str) -> Vec<String> {
        self.0
            .get(name)
            .and_then(|v| v.as_l().ok())
            .map(|l| l.iter().filter_map(|v| v.as_s().ok().cloned()).collect())
            .unwrap_or_default()
    }

    pub(crate) fn string_map(&self, name: &str) -> HashMap<String, String> {
        self.0
            .get(name)
            .and_then(|v| v.as_m().ok())
            .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_s().ok()?.clone()))).collect())
            .unwrap_or_default()
    }

    /// TTL deletes late: an item past `expires_at` is treated as gone.
    pub(crate) fn is_expired(&self, now: i64) -> bool {
        self.opt_number("expires_at").is_some_and(|at| at <= now)
    }
}

/// Maps a DynamoDB SDK failure (see [`crate::aws::classify`]).
pub(crate) fn backend<E>(
    operation: &'static str,
) -> impl FnOnce(aws_sdk_dynamodb::error::SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>) -> Error
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    move |err| crate::aws::classify("DynamoDB", operation, err)
}

pub(crate) use crate::aws::is_condition_failure;

/// The outcome of a single conditional write: `Some(output)` when it was written, `None` when
/// its condition failed (a race lost, or a rule held), `Err` for a fault.
pub(crate) fn conditional<T, E>(
    result: Result<T, aws_sdk_dynamodb::error::SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>>,
    operation: &'static str,
) -> Result<Option<T>, Error>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match result {
        Ok(output) => Ok(Some(output)),
        Err(e) if is_condition_failure(&e) => Ok(None),
        Err(e) => Err(backend(operation)(e)),
    }
}

impl Written {
    fn from_conditional<T>(written: Option<T>) -> Self {
        if written.is_some() { Written::Yes } else { Written::LostRace }
    }
}

/// How a conditional write ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    Yes,
    /// A condition failed: another request won the race, or a rule (single use, revoked) held.
    LostRace,
}

impl Store {
    /// Runs a transaction. Only a failed condition is a lost race: DynamoDB also cancels
    /// transactions for conflicts with concurrent transactions and for throttling, and those are
    /// backend faults (503, retry) — treating them as a lost race would refuse a valid token.
    pub(crate) async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<Written, Error> {
        match self.ddb.transact_write_items().set_transact_items(Some(items)).send().await {
            Ok(_) => Ok(Written::Yes),
            Err(e) => match e.as_service_error().map(cancellation) {
                Some(Cancellation::ConditionFailed) => Ok(Written::LostRace),
                Some(Cancellation::Transient) => {
                    Err(Error::Unavailable(anyhow::Error::new(e).context("DynamoDB TransactWriteItems")))
                }
                _ => Err(backend("TransactWriteItems")(e)),
            },
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Cancellation {
    ConditionFailed,
    Transient,
    Other,
}

/// Why DynamoDB cancelled a transaction, from its per-item cancellation reasons.
fn cancellation(err: &TransactWriteItemsError) -> Cancellation {
    let TransactWriteItemsError::TransactionCanceledException(cancelled) = err else { return Cancellation::Other };
    let codes: Vec<&str> = cancelled.cancellation_reasons().iter().filter_map(|r| r.code()).collect();
    if codes.contains(&"ConditionalCheckFailed") {
        Cancellation::ConditionFailed
    } else if codes.iter().any(|c| {
        matches!(
            *c,
            "TransactionConflict" | "ThrottlingError" | "ProvisionedThroughputExceeded" | "RequestLimitExceeded"
        )
    }) {
        Cancellation::Transient
    } else {
        Cancellation::Other
    }
}

/// Wraps a context for errors from our own parsing of items.
pub(crate) trait ItemContext<T> {
    fn item(self, kind: &'static str) -> Result<T, Error>;
}

impl<T> ItemContext<T> for anyhow::Result<T> {
    fn item(self, kind: &'static str) -> Result<T, Error> {
        self.with_context(|| format!("reading a {kind} item")).map_err(Error::Internal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::types::CancellationReason;
    use aws_sdk_dynamodb::types::error::TransactionCanceledException;

    fn cancelled(codes: &[&str]) -> TransactWriteItemsError {
        let reasons = codes.iter().map(|c| CancellationReason::builder().code(*c).build()).collect();
        TransactWriteItemsError::TransactionCanceledException(
            TransactionCanceledException::builder().set_cancellation_reasons(Some(reasons)).build(),
        )
    }

    #[test]
    fn only_a_failed_condition_is_a_lost_race() {
        assert_eq!(
            cancellation(&cancelled(&["None", "ConditionalCheckFailed", "None"])),
            Cancellation::ConditionFailed
        );
        assert_eq!(cancellation(&cancelled(&["TransactionConflict", "None"])), Cancellation::Transient);
        assert_eq!(cancellation(&cancelled(&["None", "ThrottlingError"])), Cancellation::Transient);
        assert_eq!(cancellation(&cancelled(&["ValidationError"])), Cancellation::Other);
    }
}

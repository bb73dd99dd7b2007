//! The table and its client ([`Store`]), reads that honour `expires_at`, conditional writes and
//! transactions, and how DynamoDB's failures map to [`Error`]. Every item kind's module adds its
//! operations to [`Store`] on top of this.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, TransactWriteItem};

use super::item::{Item, Key};
use crate::error::Error;

/// The table and the client that reaches it.
#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) ddb: Client,
    pub(crate) table: String,
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
    pub(crate) async fn get_permanent(&self, key: Key) -> Result<Option<Item>, Error> {
        self.get_raw(key).await
    }

    /// An item with a lifetime, `None` when absent or past its `expires_at`.
    pub(crate) async fn get(&self, key: Key, now: i64) -> Result<Option<Item>, Error> {
        Ok(self.get_raw(key).await?.filter(|item| !item.is_expired(now)))
    }

    /// Writes `item` over whatever its key holds. Only for keys that never meet another writer's
    /// (hashes of random values, caches, idempotent entries): without a condition, the SDK's
    /// retry of a put whose answer was lost succeeds instead of failing on its own first write.
    pub(crate) async fn put_unconditional(&self, item: Item) -> Result<(), Error> {
        let put = self.ddb.put_item().table_name(&self.table).set_item(Some(item.into_attributes()));
        put.send().await.map_err(backend("PutItem"))?;
        Ok(())
    }

    /// Writes `item` unless its key holds an item already; `false` when it did.
    pub(crate) async fn put_if_absent(&self, item: Item) -> Result<bool, Error> {
        let put = self
            .ddb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item.into_attributes()))
            .condition_expression("attribute_not_exists(pk)");
        Ok(conditional(put.send().await, "PutItem")?.is_some())
    }

    /// The `pk`s of the items indexed under `gsi1pk` (a user's families, sessions) whose
    /// `gsi1sk` starts with `prefix`, page by page. The index is eventually consistent: an item
    /// written a moment ago may be missing.
    pub(crate) async fn indexed_under(&self, gsi1pk: String, prefix: &str) -> Result<Vec<String>, Error> {
        let mut pages = self
            .ddb
            .query()
            .table_name(&self.table)
            .index_name("gsi1")
            .key_condition_expression("gsi1pk = :pk AND begins_with(gsi1sk, :prefix)")
            .expression_attribute_values(":pk", AttributeValue::S(gsi1pk))
            .expression_attribute_values(":prefix", AttributeValue::S(prefix.to_string()))
            .into_paginator()
            .items()
            .send();
        let mut keys = Vec::new();
        while let Some(entry) = pages.next().await {
            keys.push(Item(entry.map_err(backend("Query"))?).string("pk").map_err(Error::Internal)?);
        }
        Ok(keys)
    }

    /// Deletes the item under `key`, whatever it holds. Idempotent.
    pub(crate) async fn delete(&self, key: Key) -> Result<(), Error> {
        let delete = self.ddb.delete_item().table_name(&self.table).set_key(Some(key.attributes()));
        delete.send().await.map_err(backend("DeleteItem"))?;
        Ok(())
    }

    /// Deletes the item under `key`; `false` when there was none.
    pub(crate) async fn delete_existing(&self, key: Key) -> Result<bool, Error> {
        let delete = self.ddb.delete_item().table_name(&self.table).set_key(Some(key.attributes()));
        let out = delete.return_values(ReturnValue::AllOld).send().await.map_err(backend("DeleteItem"))?;
        Ok(out.attributes.is_some())
    }

    /// An `UpdateItem` of the item under `key`.
    pub(crate) fn update_item(&self, key: Key) -> UpdateItemFluentBuilder {
        self.ddb.update_item().table_name(&self.table).set_key(Some(key.attributes()))
    }

    async fn get_raw(&self, key: Key) -> Result<Option<Item>, Error> {
        let out = self
            .ddb
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key.attributes()))
            .consistent_read(true)
            .send()
            .await
            .map_err(backend("GetItem"))?;
        Ok(out.item.map(Item))
    }
}

/// A request builder missing a required field: our bug, never the client's.
impl From<aws_sdk_dynamodb::error::BuildError> for Error {
    fn from(e: aws_sdk_dynamodb::error::BuildError) -> Self {
        Error::Internal(e.into())
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
    pub(crate) fn from_conditional<T>(written: Option<T>) -> Self {
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

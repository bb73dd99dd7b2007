//! Creating the table: keys, the `gsi1` index and TTL on `expires_at`. Idempotent, so
//! `wxauth-admin init` and every test can call it.

use std::time::Duration;

use anyhow::{Context as _, bail};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, TableStatus, TimeToLiveSpecification,
};

/// Creates `table` unless it exists, waits until it is active, and turns TTL on.
pub async fn ensure_table(ddb: &Client, table: &str) -> anyhow::Result<()> {
    let key = |name: &str, kind: KeyType| KeySchemaElement::builder().attribute_name(name).key_type(kind).build();
    let attr =
        |name: &str| AttributeDefinition::builder().attribute_name(name).attribute_type(ScalarAttributeType::S).build();
    let created = ddb
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key("pk", KeyType::Hash)?)
        .key_schema(key("sk", KeyType::Range)?)
        .attribute_definitions(attr("pk")?)
        .attribute_definitions(attr("sk")?)
        .attribute_definitions(attr("gsi1pk")?)
        .attribute_definitions(attr("gsi1sk")?)
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name("gsi1")
                .key_schema(key("gsi1pk", KeyType::Hash)?)
                .key_schema(key("gsi1sk", KeyType::Range)?)
                .projection(Projection::builder().projection_type(ProjectionType::KeysOnly).build())
                .build()?,
        )
        .send()
        .await;
    match created {
        Ok(_) => {}
        Err(e) if e.as_service_error().and_then(|e| e.code()) == Some("ResourceInUseException") => {}
        Err(e) => return Err(e).with_context(|| format!("creating table {table}")),
    }
    wait_until_active(ddb, table).await?;
    match ddb
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder().attribute_name("expires_at").enabled(true).build()?,
        )
        .send()
        .await
    {
        Ok(_) => Ok(()),
        // Asking again for the TTL that is already on is an error in DynamoDB.
        Err(e) if e.as_service_error().and_then(|e| e.message()).is_some_and(|m| m.contains("already enabled")) => {
            Ok(())
        }
        Err(e) => Err(e).with_context(|| format!("enabling TTL on {table}")),
    }
}

async fn wait_until_active(ddb: &Client, table: &str) -> anyhow::Result<()> {
    for _ in 0..120 {
        let out = ddb.describe_table().table_name(table).send().await.context("describing the table")?;
        if out.table.and_then(|t| t.table_status) == Some(TableStatus::Active) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    bail!("table {table} did not become active within a minute")
}

//! The data key: the symmetric KMS key that seals WeChat app secrets and session keys, and the
//! envelope signing keys.

use anyhow::Context as _;
use aws_sdk_kms::error::ProvideErrorMetadata;
use aws_sdk_kms::types::{KeySpec, KeyUsageType};

/// The symmetric data key behind `alias`, created with that alias if there is none. Returns the
/// key id.
pub async fn ensure_data_key(kms: &aws_sdk_kms::Client, alias: &str) -> anyhow::Result<String> {
    match kms.describe_key().key_id(alias).send().await {
        Ok(out) => {
            return out.key_metadata.map(|m| m.key_id).context("KMS DescribeKey returned no key");
        }
        Err(e) if e.as_service_error().and_then(|e| e.code()) == Some("NotFoundException") => {}
        Err(e) => return Err(e).context("KMS DescribeKey"),
    }
    let key_id = kms
        .create_key()
        .key_spec(KeySpec::SymmetricDefault)
        .key_usage(KeyUsageType::EncryptDecrypt)
        .description("wxauth data key: WeChat session keys and app secrets")
        .send()
        .await
        .context("KMS CreateKey (data)")?
        .key_metadata
        .map(|m| m.key_id)
        .context("KMS CreateKey returned no key id")?;
    kms.create_alias().alias_name(alias).target_key_id(&key_id).send().await.context("KMS CreateAlias")?;
    Ok(key_id)
}

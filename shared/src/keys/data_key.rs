//! The symmetric KMS key that protects WeChat session keys and app secrets at rest.
//!
//! Every ciphertext is bound to an encryption context (for a session key: appid and openid), so
//! a ciphertext copied onto another item does not decrypt.

use anyhow::Context as _;
use aws_sdk_kms::primitives::Blob;

use crate::oauth::error::Error;

#[derive(Clone, Debug)]
pub struct DataKey {
    kms: aws_sdk_kms::Client,
    key_id: String,
}

impl DataKey {
    pub fn new(kms: aws_sdk_kms::Client, key_id: impl Into<String>) -> Self {
        Self { kms, key_id: key_id.into() }
    }

    pub async fn encrypt(&self, plaintext: &[u8], context: &[(&str, &str)]) -> Result<Vec<u8>, Error> {
        let out = self
            .kms
            .encrypt()
            .key_id(&self.key_id)
            .plaintext(Blob::new(plaintext))
            .set_encryption_context(Some(context.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()))
            .send()
            .await
            .map_err(|e| crate::aws::classify("KMS", "Encrypt", e))?;
        let blob = out.ciphertext_blob.context("KMS Encrypt returned no ciphertext").map_err(Error::Internal)?;
        Ok(blob.into_inner())
    }

    pub async fn decrypt(&self, ciphertext: &[u8], context: &[(&str, &str)]) -> Result<Vec<u8>, Error> {
        let out = self
            .kms
            .decrypt()
            .key_id(&self.key_id)
            .ciphertext_blob(Blob::new(ciphertext))
            .set_encryption_context(Some(context.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()))
            .send()
            .await
            .map_err(|e| crate::aws::classify("KMS", "Decrypt", e))?;
        let blob = out.plaintext.context("KMS Decrypt returned no plaintext").map_err(Error::Internal)?;
        Ok(blob.into_inner())
    }
}

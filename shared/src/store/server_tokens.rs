//! Mini programs' WeChat server access tokens (`stable_token`), KMS-encrypted, shared by every
//! container until 5 minutes before they expire.

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;

use super::backend::{Store, backend};
use super::item::{Key, n, s};
use crate::error::Error;

fn key(appid: &str) -> String {
    format!("WXTOKEN#{appid}")
}

impl Store {
    /// The ciphertext of `appid`'s token and when to stop using it, unless absent or expired.
    pub async fn server_token(&self, appid: &str, now: i64) -> Result<Option<(Vec<u8>, i64)>, Error> {
        let Some(item) = self.get(Key::new(key(appid), "WXTOKEN"), now).await? else { return Ok(None) };
        Ok(item.opt_bytes("token").zip(item.opt_number("expires_at")))
    }

    pub async fn put_server_token(&self, appid: &str, ciphertext: Vec<u8>, expires_at: i64) -> Result<(), Error> {
        self.ddb
            .put_item()
            .table_name(&self.table)
            .item("pk", s(key(appid)))
            .item("sk", s("WXTOKEN"))
            .item("token", AttributeValue::B(Blob::new(ciphertext)))
            .item("expires_at", n(expires_at))
            .send()
            .await
            .map_err(backend("PutItem"))?;
        Ok(())
    }
}

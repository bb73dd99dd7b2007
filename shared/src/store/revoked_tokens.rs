//! The access-token deny list: a revoked token's `jti` until the token would have expired.
//!
//! Rules: the item expires with the token (`expires_at` = the token's `exp` plus the leeway), so the list holds
//! only tokens that could still be presented; a read past `expires_at` counts as absent, which is
//! safe because the token itself has expired by then.

use super::backend::{Store, backend};
use super::item::{Key, n, s};
use crate::error::Error;

fn key(jti: &str) -> String {
    format!("JTI#{jti}")
}

impl Store {
    /// Puts `jti` on the deny list until `exp`. Idempotent.
    pub async fn revoke_access_token(&self, jti: &str, exp: i64, now: i64) -> Result<(), Error> {
        self.ddb
            .put_item()
            .table_name(&self.table)
            .item("pk", s(key(jti)))
            .item("sk", s("JTI"))
            .item("revoked_at", n(now))
            // Verification tolerates clock skew past `exp`: keep the entry until that is over too.
            .item("expires_at", n(exp + crate::clock::LEEWAY_SECONDS))
            .send()
            .await
            .map_err(backend("PutItem"))?;
        Ok(())
    }

    pub async fn is_access_token_revoked(&self, jti: &str, now: i64) -> Result<bool, Error> {
        Ok(self.get(Key::new(key(jti), "JTI"), now).await?.is_some())
    }
}

//! The access-token deny list, `JTI#<jti>` / `JTI`: a revoked token's `jti` until the token would
//! have expired.
//!
//! Rules: the item expires with the token (`expires_at` = the token's `exp` plus the leeway), so
//! the list holds only tokens that could still be presented; a read past `expires_at` counts as
//! absent, which is safe because the token itself has expired by then.

use super::backend::Store;
use super::item::{Item, Key, n};
use crate::domain::access_claims::AccessTokenId;
use crate::error::Error;

/// The key of the deny-list entry of access token `jti`.
pub fn key(jti: &str) -> Key {
    Key::new(format!("JTI#{jti}"), "JTI")
}

impl Store {
    /// Puts the token on the deny list until its `exp`. Idempotent.
    pub async fn revoke_access_token(&self, token: AccessTokenId<'_>, now: i64) -> Result<(), Error> {
        self.put_unconditional(to_item(token, now)).await
    }

    /// Whether `jti` is on the deny list: an entry exists (reading nothing but its presence).
    pub async fn is_access_token_revoked(&self, jti: &str, now: i64) -> Result<bool, Error> {
        Ok(self.get(key(jti), now).await?.is_some())
    }
}

/// The entry of `token`, revoked at `now`. Verification tolerates clock skew past the token's
/// `exp`: the entry stays until that is over too.
fn to_item(token: AccessTokenId, now: i64) -> Item {
    let expires_at = token.exp + crate::clock::LEEWAY_SECONDS;
    Item::keyed(key(token.jti)).set("revoked_at", n(now)).set("expires_at", n(expires_at))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::item::s;

    #[test]
    fn an_entry_lives_past_the_tokens_exp_by_the_leeway() {
        let item = to_item(AccessTokenId { jti: "j1", exp: 1_000 }, 400);
        let a = item.attributes();
        assert_eq!((&a["pk"], &a["sk"]), (&s("JTI#j1"), &s("JTI")));
        assert_eq!(item.opt_number("revoked_at"), Some(400));
        assert_eq!(item.opt_number("expires_at"), Some(1_000 + crate::clock::LEEWAY_SECONDS));
        assert!(!item.is_expired(1_000) && item.is_expired(1_000 + crate::clock::LEEWAY_SECONDS));
        assert_eq!(a.len(), 4);
    }
}

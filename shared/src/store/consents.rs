//! Remembered consent, `CONSENT#<user_id>#<client_id>` / `CONSENT`: the scopes a user allowed a
//! client, until `CONSENT_TTL` after the last approval.
//!
//! Rules: an approval adds its scopes to a live consent with `ADD` on a string set, so two
//! approvals at once (two tabs) both count; over an expired consent (TTL deletes late) it starts
//! afresh instead. Reads check `expires_at`.

use super::backend::{Store, conditional};
use super::item::{Item, ItemContext as _, Key, n, string_set};
use crate::domain::consent::Consent;
use crate::error::Error;
use crate::scope::Scope;

/// The key of `user_id`'s consent to `client_id`.
pub fn key(user_id: &str, client_id: &str) -> Key {
    Key::new(format!("CONSENT#{user_id}#{client_id}"), "CONSENT")
}

impl Store {
    /// The consent `user_id` gave `client_id`, unless none or expired.
    pub async fn consent(&self, user_id: &str, client_id: &str, now: i64) -> Result<Option<Consent>, Error> {
        let Some(item) = self.get(key(user_id, client_id), now).await? else { return Ok(None) };
        from_item(&item, user_id, client_id).reading("consent").map(Some)
    }

    /// Remembers that `user_id` allowed `client_id` the scopes of `scope`, beside those allowed
    /// before, until `expires_at`.
    pub async fn remember_consent(
        &self,
        user_id: &str,
        client_id: &str,
        scope: &Scope,
        expires_at: i64,
        now: i64,
    ) -> Result<(), Error> {
        let Some(scopes) = string_set(scope.iter()) else { return Ok(()) };
        let add = self
            .update_item(key(user_id, client_id))
            .update_expression("SET expires_at = :exp ADD scopes :scopes")
            .condition_expression("attribute_not_exists(pk) OR expires_at > :now")
            .expression_attribute_values(":exp", n(expires_at))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":scopes", scopes.clone());
        if conditional(add.send().await, "UpdateItem")?.is_some() {
            return Ok(());
        }
        // An expired consent: what it held was allowed too long ago to count.
        let item = Item::keyed(key(user_id, client_id)).set("scopes", scopes).set("expires_at", n(expires_at));
        self.put_unconditional(item).await
    }
}

fn from_item(item: &Item, user_id: &str, client_id: &str) -> anyhow::Result<Consent> {
    let scope = Scope::parse(&item.string_set("scopes").join(" "))
        .map_err(|_| anyhow::anyhow!("a stored consent scope is malformed"))?;
    Ok(Consent {
        user_id: user_id.to_string(),
        client_id: client_id.to_string(),
        scope,
        expires_at: item.number("expires_at")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_consent_reads_its_scopes_from_the_set() {
        let scope = Scope::parse("openid profile").expect("scope");
        let item =
            Item::keyed(key("u1", "c1")).set("scopes", string_set(scope.iter()).expect("set")).set("expires_at", n(9));
        let consent = from_item(&item, "u1", "c1").expect("read");
        assert_eq!((consent.scope, consent.expires_at), (scope, 9));
        assert_eq!(key("u1", "c1"), Key::new("CONSENT#u1#c1", "CONSENT"));
    }
}

//! WeChat session keys, `WXSK#<appid>#<openid>` / `WXSK`: sealed by the data key (a `WXE1`
//! envelope under KMS, [`crate::keys::data_key`]; encryption context: purpose, appid and openid).
//!
//! Rules: a login replaces the current key and keeps the replaced one as `previous` for a short
//! while, in one update (concurrent `wx.login` calls each replace the key, and data the mini
//! program encrypted under the older one may still be on its way). Nothing here ever holds a
//! session key in plaintext.

use super::backend::{Store, conditional};
use super::item::{Item, Key, b, n};
use crate::domain::session_keys::{NewSessionKey, StoredSessionKeys};
use crate::domain::user::Openid;
use crate::error::Error;

/// The key of the session keys of one openid in its mini program.
pub fn key(id: Openid) -> Key {
    Key::new(format!("WXSK#{}#{}", id.appid, id.openid), "WXSK")
}

impl Store {
    /// Stores `new` as the current key; the replaced key stays usable until
    /// `new.previous_until`, the whole item until `new.expires_at`. A replaced key that had
    /// expired (an item TTL has not deleted yet) is dropped, not kept as `previous`.
    pub async fn put_session_key(&self, id: Openid<'_>, new: &NewSessionKey, now: i64) -> Result<(), Error> {
        let NewSessionKey { ciphertext: raw_ciphertext, previous_until, expires_at } = new;
        let (previous_until, expires_at) = (*previous_until, *expires_at);
        let ciphertext = b(raw_ciphertext);
        // What both writes below share: the item, and the new key with its times.
        let update = || {
            let item = self.update_item(key(id));
            item.expression_attribute_names("#current", "current")
                .expression_attribute_values(":key", ciphertext.clone())
                .expression_attribute_values(":now", n(now))
                .expression_attribute_values(":expires_at", n(expires_at))
        };
        // Replace a live key (keeping it as `previous`), else start afresh over an expired one;
        // each conditional, so a concurrent login in between sends us round again.
        for _ in 0..3 {
            let replace_live = update()
                // Right-hand sides see the item as it was, so `previous` gets the replaced key.
                .update_expression(
                    "SET previous = if_not_exists(#current, :key), previous_until = :previous_until, \
                     #current = :key, current_at = :now, expires_at = :expires_at",
                )
                // Not over our own key: an SDK retry of this write after a lost answer would
                // make our key its own `previous` and lose the real one.
                .condition_expression("attribute_not_exists(pk) OR (expires_at > :now AND #current <> :key)")
                .expression_attribute_values(":previous_until", n(previous_until))
                .send()
                .await;
            if conditional(replace_live, "UpdateItem")?.is_some() {
                return Ok(());
            }
            let replace_expired = update()
                .update_expression(
                    "SET #current = :key, current_at = :now, expires_at = :expires_at REMOVE previous, previous_until",
                )
                .condition_expression("expires_at <= :now")
                .send()
                .await;
            if conditional(replace_expired, "UpdateItem")?.is_some() {
                return Ok(());
            }
            if self.current_session_key_is(id, raw_ciphertext, now).await? {
                return Ok(()); // our own write, applied before a lost answer
            }
        }
        Err(Error::Unavailable(anyhow::anyhow!("storing a session key kept losing races")))
    }

    /// Whether the current key stored for `id` is `ciphertext`. Two sealings are never equal (a
    /// random nonce each, or KMS's own randomness), so this tells our own write from anyone else's.
    async fn current_session_key_is(&self, id: Openid<'_>, ciphertext: &[u8], now: i64) -> Result<bool, Error> {
        let item = self.get(key(id), now).await?;
        Ok(item.and_then(|item| item.opt_bytes("current")).is_some_and(|current| current == ciphertext))
    }

    /// The keys usable at `now`, if any.
    pub async fn session_keys(&self, id: Openid<'_>, now: i64) -> Result<Option<StoredSessionKeys>, Error> {
        let item = self.get(key(id), now).await?;
        Ok(item.and_then(|item| from_item(&item, now)))
    }
}

/// The keys usable at `now`: none without a current key; the previous one only until
/// `previous_until`, and not when it is the current one. There is no `to_item`: the item is only
/// ever written by the update expressions of [`Store::put_session_key`] (`current`,
/// `current_at`, `previous`, `previous_until`, `expires_at`).
fn from_item(item: &Item, now: i64) -> Option<StoredSessionKeys> {
    let current = item.opt_bytes("current")?;
    let previous_live = item.opt_number("previous_until").is_some_and(|until| until > now);
    let previous = item.opt_bytes("previous").filter(|p| previous_live && *p != current);
    Some(StoredSessionKeys { current, current_at: item.opt_number("current_at").unwrap_or_default(), previous })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::item::s;

    #[test]
    fn the_keys_read_back_as_the_update_writes_them() {
        let item = Item::keyed(key(Openid { appid: "wx1", openid: "o1" }))
            .set("current", b(&[2]))
            .set("current_at", n(100))
            .set("previous", b(&[1]))
            .set("previous_until", n(130))
            .set("expires_at", n(1_000));
        assert_eq!(item.attributes()["pk"], s("WXSK#wx1#o1"));
        let keys = StoredSessionKeys { current: vec![2], current_at: 100, previous: Some(vec![1]) };
        assert_eq!(from_item(&item, 120), Some(keys.clone()));
        assert_eq!(from_item(&item, 130), Some(StoredSessionKeys { previous: None, ..keys }), "previous ran out");
        assert_eq!(from_item(&Item::keyed(key(Openid { appid: "wx1", openid: "o1" })), 120), None, "no current key");
    }
}

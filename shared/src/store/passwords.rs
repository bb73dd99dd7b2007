//! Password users and the lockout of usernames under guessing.
//!
//! Rules:
//! - A username is trimmed, 1–64 characters, printable (no control or invisible formatting
//!   characters, no whitespace but the plain space) and case-insensitive: it is stored and
//!   looked up lowercased ([`normalize_username`]). Every function here normalizes what it is
//!   given, so callers may pass a username as typed.
//! - A username maps to exactly one user: `USERNAME#<username>` / `MAP` holds its `user_id`,
//!   and is created with the user item in one transaction whose puts are both conditional, so
//!   two creations racing for one username create one user.
//! - The password's argon2id hash ([`crate::password`]) lives on the user item
//!   (`password_hash`), beside `username`; deleting a user deletes its mapping and its item in
//!   one transaction, then revokes its token families.
//! - Lockout: after [`MAX_FAILURES`] failures within [`WINDOW_SECONDS`] of the window's first
//!   failure, the username is locked for [`LOCK_SECONDS`]; a success clears the counter. The
//!   counter (`PWFAIL#<username>` / `PWFAIL`) is per username string, whether or not such a user
//!   exists, so a locked username tells nothing about the user. Counting is atomic (`ADD`), with
//!   conditions choosing between "count in this window" and "start a new window": concurrent
//!   failures are never lost to a read-modify-write race. A failure during a lock changes
//!   nothing: the lock is not extended. The counter item expires (`expires_at`) at the later of
//!   the window's end and the lock's end, and reads check `expires_at` themselves.
//! - Anyone can lock a username by guessing: that is the price of slowing guessing down per
//!   username, bounded by [`LOCK_SECONDS`].

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, ReturnValue, TransactWriteItem};

use super::{Item, ItemContext as _, Store, Written, backend, conditional, n, s};
use crate::oauth::error::Error;
use crate::password::PasswordHash;
use crate::tokens::secret::random_id;

/// Failures within one window that lock the username.
pub const MAX_FAILURES: i64 = 5;
/// How long a window of failures lasts, from its first failure.
pub const WINDOW_SECONDS: i64 = 900;
/// How long a username stays locked.
pub const LOCK_SECONDS: i64 = 900;
/// The longest username, in characters (after trimming and lowercasing).
pub const MAX_USERNAME_CHARS: usize = 64;

/// The stored form of a username, or `None` when it is not an acceptable one.
pub fn normalize_username(username: &str) -> Option<String> {
    let name = username.trim().to_lowercase();
    let length = name.chars().count();
    let printable = name.chars().all(|c| !c.is_control() && !is_invisible(c) && (c == ' ' || !c.is_whitespace()));
    ((1..=MAX_USERNAME_CHARS).contains(&length) && printable).then_some(name)
}

/// Formatting characters that render as nothing and would make look-alike usernames:
/// zero-width spaces and joiners, direction marks and overrides, word joiners, the BOM.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{00AD}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

/// Why a password user could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    #[error("the username is taken")]
    Taken,
    #[error("a username must be 1 to 64 printable characters")]
    InvalidUsername,
    #[error(transparent)]
    Store(#[from] Error),
}

fn username_key(name: &str) -> String {
    format!("USERNAME#{name}")
}
fn user_key(id: &str) -> String {
    format!("USER#{id}") // as in `users`
}
fn failures_key(name: &str) -> String {
    format!("PWFAIL#{name}")
}

impl Store {
    /// Creates a password user: user item + username mapping in one transaction (conditional:
    /// the username must be free). Returns the new user id.
    pub async fn create_password_user(
        &self,
        username: &str,
        hash: &PasswordHash,
        now: i64,
    ) -> Result<String, CreateUserError> {
        let name = normalize_username(username).ok_or(CreateUserError::InvalidUsername)?;
        let user_id = random_id();
        let user = Put::builder()
            .table_name(&self.table)
            .item("pk", s(user_key(&user_id)))
            .item("sk", s("USER"))
            .item("user_id", s(&user_id))
            .item("username", s(&name))
            .item("password_hash", s(hash.as_str()))
            // The shape of a WeChat user's item, so linking an openid later finds the map.
            .item("openids", AttributeValue::M(HashMap::new()))
            .item("created_at", n(now))
            .condition_expression("attribute_not_exists(pk)");
        let mapping = Put::builder()
            .table_name(&self.table)
            .item("pk", s(username_key(&name)))
            .item("sk", s("MAP"))
            .item("user_id", s(&user_id))
            .item("username", s(&name))
            .item("created_at", n(now))
            .condition_expression("attribute_not_exists(pk)");
        let mut items = Vec::with_capacity(2);
        for put in [user, mapping] {
            let put = put.build().map_err(|e| Error::Internal(e.into()))?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        match self.transact(items).await? {
            Written::Yes => Ok(user_id),
            Written::LostRace => Err(CreateUserError::Taken),
        }
    }

    /// The user id and password hash of `username`, `None` when there is no such password user.
    pub async fn password_user(&self, username: &str) -> Result<Option<(String, PasswordHash)>, Error> {
        let Some(name) = normalize_username(username) else { return Ok(None) };
        let Some(user_id) = self.user_id_of(&name).await? else { return Ok(None) };
        let Some(user) = self.get_permanent(user_key(&user_id), "USER").await? else {
            tracing::warn!(user_id, "a username maps to a missing user");
            return Ok(None);
        };
        Ok(user.opt_string("password_hash").map(|hash| (user_id, PasswordHash::from_stored(hash))))
    }

    /// Replaces the password of `username`; `false` if there is no such user.
    pub async fn set_password(&self, username: &str, hash: &PasswordHash) -> Result<bool, Error> {
        let Some(name) = normalize_username(username) else { return Ok(false) };
        let Some(user_id) = self.user_id_of(&name).await? else { return Ok(false) };
        let result = self
            .ddb
            .update_item()
            .table_name(&self.table)
            .key("pk", s(user_key(&user_id)))
            .key("sk", s("USER"))
            .update_expression("SET password_hash = :hash")
            // Still this username's user: not deleted (and its id reused) meanwhile.
            .condition_expression("attribute_exists(pk) AND username = :name")
            .expression_attribute_values(":hash", s(hash.as_str()))
            .expression_attribute_values(":name", s(&name))
            .send()
            .await;
        conditional(result, "UpdateItem").map(|w| w.is_some())
    }

    /// Deletes the username mapping and the user item in one transaction, then revokes the
    /// user's token families; `false` if there is no such user.
    pub async fn delete_password_user(&self, username: &str, now: i64) -> Result<bool, Error> {
        let Some(name) = normalize_username(username) else { return Ok(false) };
        // A lost race (the username deleted, or deleted and created again, meanwhile) is settled
        // by reading the mapping again.
        for _ in 0..3 {
            let Some(user_id) = self.user_id_of(&name).await? else { return Ok(false) };
            let mapping = Delete::builder()
                .table_name(&self.table)
                .key("pk", s(username_key(&name)))
                .key("sk", s("MAP"))
                .condition_expression("user_id = :id")
                .expression_attribute_values(":id", s(&user_id));
            // Unconditional: a mapping left without its user is still deleted.
            let user = Delete::builder().table_name(&self.table).key("pk", s(user_key(&user_id))).key("sk", s("USER"));
            let items = vec![
                TransactWriteItem::builder().delete(mapping.build().map_err(|e| Error::Internal(e.into()))?).build(),
                TransactWriteItem::builder().delete(user.build().map_err(|e| Error::Internal(e.into()))?).build(),
            ];
            if self.transact(items).await? == Written::Yes {
                self.revoke_user_families(&user_id, now).await?;
                return Ok(true);
            }
        }
        Err(Error::Unavailable(anyhow::anyhow!("user deletion kept losing races")))
    }

    async fn user_id_of(&self, name: &str) -> Result<Option<String>, Error> {
        match self.get_permanent(username_key(name), "MAP").await? {
            Some(item) => item.string("user_id").item("username mapping").map(Some),
            None => Ok(None),
        }
    }

    /// Records a failed sign-in for `username`: counts it in the current window, or starts a
    /// new window when the last one is over, and locks the username at the
    /// [`MAX_FAILURES`]th failure. Atomic under concurrency; a failure during a lock changes
    /// nothing. An unacceptable username is never a user: nothing is recorded.
    ///
    /// Sign-in calls this *before* checking the password (and clears the count on success), so
    /// concurrent guesses cannot all pass an "unlocked" check made while the others are still
    /// hashing: `true` when this attempt is within the limit and may be checked at all.
    pub async fn admit_password_attempt(&self, username: &str, now: i64) -> Result<bool, Error> {
        let Some(name) = normalize_username(username) else { return Ok(false) };
        let pk = failures_key(&name);
        // Counting fails when there is no open window (none yet, the last one over) or a lock;
        // starting a window fails when one is open (another failure just started it) or a
        // lock. So count, else start, else count again: if that fails too, it is a lock.
        for _ in 0..2 {
            if let Some(counted) = self.count_failure(&pk, now).await? {
                if counted.failures >= MAX_FAILURES {
                    self.lock(&pk, &counted, now).await?;
                }
                return Ok(counted.failures <= MAX_FAILURES);
            }
            if self.start_failure_window(&pk, now).await? {
                return Ok(true);
            }
        }
        Ok(false) // locked
    }

    /// Clears the counter (after a successful sign-in).
    pub async fn clear_password_failures(&self, username: &str) -> Result<(), Error> {
        let Some(name) = normalize_username(username) else { return Ok(()) };
        self.ddb
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(failures_key(&name)))
            .key("sk", s("PWFAIL"))
            .send()
            .await
            .map_err(backend("DeleteItem"))?;
        Ok(())
    }

    /// Adds one failure to the open window, unless there is none or the username is locked.
    async fn count_failure(&self, pk: &str, now: i64) -> Result<Option<Failures>, Error> {
        let result = self
            .ddb
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s("PWFAIL"))
            .update_expression("ADD failures :one")
            .condition_expression(format!("window_start > :stale AND expires_at > :now AND {UNLOCKED}"))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":stale", n(now - WINDOW_SECONDS))
            .expression_attribute_values(":now", n(now))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        let counted = conditional(result, "UpdateItem")?;
        Ok(counted.map(|out| Failures::of(&Item(out.attributes.unwrap_or_default()))))
    }

    /// Starts a window with this failure, unless one is open or the username is locked.
    async fn start_failure_window(&self, pk: &str, now: i64) -> Result<bool, Error> {
        let result = self
            .ddb
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s("PWFAIL"))
            .update_expression("SET failures = :one, window_start = :now, expires_at = :end REMOVE locked_until")
            // An item past `expires_at` is gone, whatever TTL has not deleted yet.
            .condition_expression(format!(
                "attribute_not_exists(pk) OR expires_at <= :now OR (window_start <= :stale AND {UNLOCKED})"
            ))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":stale", n(now - WINDOW_SECONDS))
            .expression_attribute_values(":end", n(now + WINDOW_SECONDS))
            .send()
            .await;
        conditional(result, "UpdateItem").map(|w| w.is_some())
    }

    /// Locks the username whose window `counted` reached the limit. Whichever concurrent failure
    /// gets here first sets the lock; later ones find it set and leave it.
    async fn lock(&self, pk: &str, counted: &Failures, now: i64) -> Result<(), Error> {
        let (locked_until, expires_at) = counted.lock_from(now);
        let result = self
            .ddb
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s("PWFAIL"))
            .update_expression("SET locked_until = :until, expires_at = :exp")
            .condition_expression(format!("window_start = :window AND failures >= :max AND {UNLOCKED}"))
            .expression_attribute_values(":until", n(locked_until))
            .expression_attribute_values(":exp", n(expires_at))
            .expression_attribute_values(":window", n(counted.window_start))
            .expression_attribute_values(":max", n(MAX_FAILURES))
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        conditional(result, "UpdateItem")?; // a failed condition: locked already, or cleared meanwhile
        Ok(())
    }
}

/// The condition "not locked at `:now`".
const UNLOCKED: &str = "(attribute_not_exists(locked_until) OR locked_until <= :now)";

/// A failure counter as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Failures {
    failures: i64,
    window_start: i64,
    locked_until: Option<i64>,
}

impl Failures {
    fn of(item: &Item) -> Self {
        Self {
            failures: item.opt_number("failures").unwrap_or_default(),
            window_start: item.opt_number("window_start").unwrap_or_default(),
            locked_until: item.opt_number("locked_until"),
        }
    }

    /// `locked_until` and `expires_at` for a lock starting at `now`: the item lives until both
    /// the window and the lock are over.
    fn lock_from(&self, now: i64) -> (i64, i64) {
        let locked_until = now + LOCK_SECONDS;
        (locked_until, locked_until.max(self.window_start + WINDOW_SECONDS))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_trimmed_and_lowercased() {
        assert_eq!(normalize_username("  Alice ").as_deref(), Some("alice"));
        assert_eq!(normalize_username("ÄBC").as_deref(), Some("äbc"));
        assert_eq!(normalize_username("first last").as_deref(), Some("first last"));
        assert_eq!(normalize_username("a#b@c.d").as_deref(), Some("a#b@c.d"));
        let name = normalize_username("Bob").expect("valid");
        assert_eq!(normalize_username(&name), Some(name), "normalizing twice changes nothing");
    }

    #[test]
    fn usernames_are_one_to_64_characters() {
        assert_eq!(normalize_username(""), None);
        assert_eq!(normalize_username("   "), None);
        assert!(normalize_username(&"a".repeat(64)).is_some());
        assert_eq!(normalize_username(&"a".repeat(65)), None);
        assert!(normalize_username(&"用".repeat(64)).is_some(), "characters, not bytes");
    }

    #[test]
    fn usernames_are_printable() {
        for bad in ["a\tb", "a\nb", "a\u{0}b", "a\u{7f}b", "a\u{200B}b", "a\u{202E}b", "a\u{FEFF}b", "a\u{3000}b"] {
            assert_eq!(normalize_username(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn keys_use_the_lowercased_username() {
        let name = normalize_username("Alice").expect("valid");
        assert_eq!(username_key(&name), "USERNAME#alice");
        assert_eq!(failures_key(&name), "PWFAIL#alice");
    }

    #[test]
    fn a_password_lock_item_lives_until_window_and_lock_are_over() {
        let f = Failures { failures: MAX_FAILURES, window_start: 1_000, locked_until: None };
        assert_eq!(f.lock_from(1_100), (1_100 + LOCK_SECONDS, 1_100 + LOCK_SECONDS));
        // Were the lock shorter than the window, the window's end would keep the item.
        let (until, expires) = f.lock_from(1_000);
        assert_eq!(until, 1_000 + LOCK_SECONDS);
        assert!(expires >= 1_000 + WINDOW_SECONDS && expires >= until);
    }
}

//! Password-failure counters: the lockout of usernames under guessing.
//!
//! Rules:
//! - After [`MAX_FAILURES`] failures within [`WINDOW_SECONDS`] of the window's first
//!   failure, the username is locked for [`LOCK_SECONDS`]; a success clears the counter. The
//!   counter (`PWFAIL#<username>` / `PWFAIL`) is per username string, whether or not such a user
//!   exists, so a locked username tells nothing about the user. Counting is atomic (`ADD`), with
//!   conditions choosing between "count in this window" and "start a new window": concurrent
//!   failures are never lost to a read-modify-write race. A failure during a lock changes
//!   nothing: the lock is not extended. The counter item expires (`expires_at`) at the later of
//!   the window's end and the lock's end, and reads check `expires_at` themselves.
//! - Anyone can lock a username by guessing: that is the price of slowing guessing down per
//!   username, bounded by [`LOCK_SECONDS`].

use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::ReturnValue;

use super::passwords::normalize_username;
use super::{Item, Store, backend, conditional, n, s};
use crate::oauth::error::Error;

/// Failures within one window that lock the username.
pub const MAX_FAILURES: i64 = 5;
/// How long a window of failures lasts, from its first failure.
pub const WINDOW_SECONDS: i64 = 900;
/// How long a username stays locked.
pub const LOCK_SECONDS: i64 = 900;

fn failures_key(name: &str) -> String {
    format!("PWFAIL#{name}")
}

impl Store {
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

    /// An update of the counter `pk`, with `:now` bound (every condition here needs it).
    fn failure_update(&self, pk: &str, now: i64) -> UpdateItemFluentBuilder {
        let item = self.ddb.update_item().table_name(&self.table).key("pk", s(pk)).key("sk", s("PWFAIL"));
        item.expression_attribute_values(":now", n(now))
    }

    /// Adds one failure to the open window, unless there is none or the username is locked.
    async fn count_failure(&self, pk: &str, now: i64) -> Result<Option<Failures>, Error> {
        let result = self
            .failure_update(pk, now)
            .update_expression("ADD failures :one")
            .condition_expression(format!("window_start > :stale AND expires_at > :now AND {UNLOCKED}"))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":stale", n(now - WINDOW_SECONDS))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        let counted = conditional(result, "UpdateItem")?;
        Ok(counted.map(|out| Failures::of(&Item(out.attributes.unwrap_or_default()))))
    }

    /// Starts a window with this failure, unless one is open or the username is locked.
    async fn start_failure_window(&self, pk: &str, now: i64) -> Result<bool, Error> {
        let result = self
            .failure_update(pk, now)
            .update_expression("SET failures = :one, window_start = :now, expires_at = :end REMOVE locked_until")
            // An item past `expires_at` is gone, whatever TTL has not deleted yet.
            .condition_expression(format!(
                "attribute_not_exists(pk) OR expires_at <= :now OR (window_start <= :stale AND {UNLOCKED})"
            ))
            .expression_attribute_values(":one", n(1))
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
            .failure_update(pk, now)
            .update_expression("SET locked_until = :until, expires_at = :exp")
            .condition_expression(format!("window_start = :window AND failures >= :max AND {UNLOCKED}"))
            .expression_attribute_values(":until", n(locked_until))
            .expression_attribute_values(":exp", n(expires_at))
            .expression_attribute_values(":window", n(counted.window_start))
            .expression_attribute_values(":max", n(MAX_FAILURES))
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
    fn the_key_uses_the_lowercased_username() {
        let name = normalize_username("Alice").expect("valid");
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

//! Password-failure counters, `PWFAIL#<username>` / `PWFAIL`: the lockout of usernames under
//! guessing (the counter and its limits: [`crate::domain::lockout`]).
//!
//! Rules:
//! - After `MAX_FAILURES` failures within `WINDOW_SECONDS` of the window's first failure, the
//!   username is locked for `LOCK_SECONDS`; a success clears the counter. The counter is per
//!   username string, whether or not such a user exists, so a locked username tells nothing
//!   about the user. A failure during a lock changes nothing: the lock is not extended. The counter item expires (`expires_at`) at the later of
//!   the window's end and the lock's end, and reads check `expires_at` themselves.
//! - Password checks of one username take turns: an attempt first takes the counter's lease
//!   (`holder`, until `lease_until`, `LEASE_SECONDS`) with a conditional write, reads the
//!   counter in the same write, and settles it (a failure counted, or the counter deleted on a
//!   success) before the next attempt may look. So concurrent guesses get exactly the
//!   `MAX_FAILURES` checks the lockout allows, and concurrent *right* passwords are each
//!   checked against a counter that the others have already settled: none is refused for
//!   someone else's attempt in flight. An attempt waits for its turn at most as long as one AWS
//!   call may take (`AWS_CALL_TIMEOUT_MS`, 4 s), then answers 503 (try again), never "wrong
//!   password". A holder that died frees the lease when it runs out.
//! - Anyone can lock a username by guessing: that is the price of slowing guessing down per
//!   username, bounded by `LOCK_SECONDS`.

use std::time::Duration;

use aws_sdk_dynamodb::types::ReturnValue;

use super::backend::{Store, backend, conditional};
use super::item::{Item, Key, n, s};
use crate::domain::lockout::{Admission, Failures, LEASE_SECONDS, PasswordAttempt};
use crate::domain::username::normalize_username;
use crate::error::Error;
use crate::secret::random_id;

/// The key of the failure counter of `username` (normalized: lowercased).
pub fn key(username: &str) -> Key {
    Key::new(format!("PWFAIL#{username}"), "PWFAIL")
}

/// A jitter source; a failed read of the system's randomness only makes waiters less spread out.
fn random_byte() -> u8 {
    let mut byte = [0u8; 1];
    getrandom::fill(&mut byte).unwrap_or_default();
    byte[0]
}

impl Store {
    /// Takes the turn of `username` for one password check, waiting for concurrent checks of the
    /// same username to settle first (at most `wait`: then 503). A locked username gives its
    /// turn straight back and is [`Admission::Refused`]; so is an unacceptable one, which is
    /// never a user.
    pub async fn begin_password_attempt(&self, username: &str, now: i64, wait: Duration) -> Result<Admission, Error> {
        let Some(name) = normalize_username(username) else { return Ok(Admission::Refused) };
        let holder = random_id();
        let give_up = tokio::time::Instant::now() + wait;
        let mut ceiling = 20u64;
        loop {
            if let Some(counter) = self.take_turn(&name, &holder, now).await? {
                let attempt = PasswordAttempt { username: name, holder, counter };
                if counter.is_locked(now) {
                    self.give_back(&attempt).await?;
                    return Ok(Admission::Refused);
                }
                return Ok(Admission::Check(attempt));
            }
            if tokio::time::Instant::now() > give_up {
                return Err(Error::Unavailable(anyhow::anyhow!(
                    "other sign-ins of this username held its turn for {wait:?}"
                )));
            }
            // Exponential backoff with full jitter (from about one turn, an argon2 check and two
            // writes, up to 200 ms): many waiters must not crowd out the holder's own writes.
            let pause = 5 + ceiling * u64::from(random_byte()) / 255;
            tokio::time::sleep(Duration::from_millis(pause)).await;
            ceiling = (ceiling * 2).min(200);
        }
    }

    /// Settles a wrong password: counts it in the current window, or starts a new window when
    /// the last one is over, and locks the username at the `MAX_FAILURES`th failure; gives
    /// the turn back in the same write.
    pub async fn password_failed(&self, attempt: PasswordAttempt, now: i64, wait: Duration) -> Result<(), Error> {
        let next = attempt.counter.after_failure(now);
        let mut update = self
            .update_item(key(&attempt.username))
            .expression_attribute_values(":failures", n(next.failures))
            .expression_attribute_values(":window", n(next.window_start))
            .expression_attribute_values(":exp", n(next.expires_at))
            .expression_attribute_values(":me", s(&attempt.holder))
            .condition_expression("holder = :me");
        update = match next.locked_until {
            Some(until) => update
                .update_expression(
                    "SET failures = :failures, window_start = :window, expires_at = :exp, locked_until = :until \
                     REMOVE holder, lease_until",
                )
                .expression_attribute_values(":until", n(until)),
            None => update.update_expression(
                "SET failures = :failures, window_start = :window, expires_at = :exp \
                 REMOVE holder, lease_until, locked_until",
            ),
        };
        if conditional(update.send().await, "UpdateItem")?.is_some() {
            if next.locked_until.is_some() {
                tracing::warn!("a username is locked after repeated wrong passwords");
                crate::metrics::count(crate::metrics::Metric::PasswordLockouts, &[]);
            }
            return Ok(());
        }
        // The turn ran out and another check took it (or a lost answer's retry found ours
        // given back): count the failure on a fresh turn, so it is never lost.
        match self.begin_password_attempt(&attempt.username, now, wait).await? {
            Admission::Check(again) => Box::pin(self.password_failed(again, now, wait)).await,
            Admission::Refused => Ok(()), // locked meanwhile: a failure during a lock changes nothing
        }
    }

    /// Clears the counter (after a successful sign-in, or an administrator's new password),
    /// lock included; gives any turn back.
    pub async fn clear_password_failures(&self, username: &str) -> Result<(), Error> {
        let Some(name) = normalize_username(username) else { return Ok(()) };
        self.ddb
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(&name).attributes()))
            .send()
            .await
            .map_err(backend("DeleteItem"))?;
        Ok(())
    }

    /// Takes the lease of `username`'s counter for `holder` if it is free, run out, or already ours (the
    /// SDK's retry of a write whose answer was lost); the counter as it is then, or `None` when
    /// another check holds it.
    async fn take_turn(&self, username: &str, holder: &str, now: i64) -> Result<Option<Failures>, Error> {
        let result = self
            .update_item(key(username))
            // A new item lives as long as the lease; an existing one keeps its own lifetime.
            .update_expression("SET holder = :me, lease_until = :lease, expires_at = if_not_exists(expires_at, :lease)")
            .condition_expression("attribute_not_exists(holder) OR lease_until <= :now OR holder = :me")
            .expression_attribute_values(":me", s(holder))
            .expression_attribute_values(":lease", n(now + LEASE_SECONDS))
            .expression_attribute_values(":now", n(now))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        let taken = conditional(result, "UpdateItem")?;
        Ok(taken.map(|out| from_item(&Item(out.attributes.unwrap_or_default()), now)))
    }

    /// Gives the turn back without changing the counter (a locked username).
    async fn give_back(&self, attempt: &PasswordAttempt) -> Result<(), Error> {
        let result = self
            .update_item(key(&attempt.username))
            .update_expression("REMOVE holder, lease_until")
            .condition_expression("holder = :me")
            .expression_attribute_values(":me", s(&attempt.holder))
            .send()
            .await;
        conditional(result, "UpdateItem")?; // not ours any more: nothing to give back
        Ok(())
    }
}

/// The counter as it stands at `now`: an expired item, or one that only ever held a lease, is
/// no counter. There is no `to_item`: the counter is only ever written by the update
/// expressions above (`failures`, `window_start`, `locked_until`, `expires_at`; the lease's
/// `holder` and `lease_until`).
fn from_item(item: &Item, now: i64) -> Failures {
    if item.is_expired(now) || item.opt_number("window_start").is_none() {
        return Failures::default();
    }
    Failures {
        failures: item.opt_number("failures").unwrap_or_default(),
        window_start: item.opt_number("window_start").unwrap_or_default(),
        locked_until: item.opt_number("locked_until"),
        expires_at: item.opt_number("expires_at").unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_uses_the_lowercased_username() {
        let name = normalize_username("Alice").expect("valid");
        assert_eq!(key(&name), Key::new("PWFAIL#alice", "PWFAIL"));
    }

    #[test]
    fn a_counter_reads_back_as_the_updates_write_it() {
        let counter = Failures { failures: 5, window_start: 100, locked_until: Some(1_000), expires_at: 1_000 };
        let item = Item::keyed(key("ann"))
            .set("failures", n(counter.failures))
            .set("window_start", n(counter.window_start))
            .set("locked_until", n(1_000))
            .set("expires_at", n(counter.expires_at))
            .set("holder", s("h"))
            .set("lease_until", n(110));
        assert_eq!(from_item(&item, 200), counter);
    }

    #[test]
    fn an_expired_or_lease_only_item_is_no_counter() {
        let item = |pairs: &[(&str, i64)]| {
            Item(pairs.iter().map(|(k, v)| (k.to_string(), n(*v))).collect::<std::collections::HashMap<_, _>>())
        };
        let expired = item(&[("failures", 4), ("window_start", 100), ("locked_until", 900), ("expires_at", 1_000)]);
        assert_eq!(from_item(&expired, 1_000), Failures::default());
        assert_eq!(from_item(&item(&[("lease_until", 1_010), ("expires_at", 1_010)]), 1_000), Failures::default());
        let live = from_item(&expired, 999);
        assert_eq!((live.failures, live.locked_until), (4, Some(900)));
    }
}

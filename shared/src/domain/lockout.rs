//! The lockout of usernames under password guessing: a failure counter per username, its window
//! and its lock (the rules are in [`crate::store::password_failures`], which stores it).

/// Failures within one window that lock the username.
pub const MAX_FAILURES: i64 = 5;
/// How long a window of failures lasts, from its first failure.
pub const WINDOW_SECONDS: i64 = 900;
/// How long a username stays locked.
pub const LOCK_SECONDS: i64 = 900;
/// How long a password check may hold its username's turn: far above one argon2 verification
/// (~25 ms) and the AWS call timeouts, so only a holder that died lets it run out.
pub const LEASE_SECONDS: i64 = 10;

/// A password check's turn on its username's counter, and the counter as it was taken.
#[derive(Debug)]
pub struct PasswordAttempt {
    /// The normalized username.
    pub(crate) username: String,
    /// Who holds the turn: this attempt's random id.
    pub(crate) holder: String,
    pub(crate) counter: Failures,
}

/// What [`crate::store::Store::begin_password_attempt`] decided.
#[derive(Debug)]
pub enum Admission {
    /// The password may be checked; settle the attempt with
    /// [`crate::store::Store::password_failed`] or [`crate::store::Store::clear_password_failures`].
    Check(PasswordAttempt),
    /// Locked (or not a username at all): not checked, answered as a wrong password.
    Refused,
}

/// A failure counter as it stands at some instant (an expired item counts as none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Failures {
    pub failures: i64,
    pub window_start: i64,
    pub locked_until: Option<i64>,
    pub expires_at: i64,
}

impl Failures {
    pub fn is_locked(&self, now: i64) -> bool {
        self.locked_until.is_some_and(|until| until > now)
    }

    /// The counter after one more failure at `now`: counted in the open window, or the first of
    /// a new one; locked at the [`MAX_FAILURES`]th. The item lives until both the window and the
    /// lock are over.
    pub fn after_failure(&self, now: i64) -> Self {
        let open = self.failures > 0 && self.window_start > now - WINDOW_SECONDS;
        let (failures, window_start) = if open { (self.failures + 1, self.window_start) } else { (1, now) };
        let locked_until = (failures >= MAX_FAILURES).then_some(now + LOCK_SECONDS);
        let expires_at = locked_until.unwrap_or_default().max(window_start + WINDOW_SECONDS);
        Self { failures, window_start, locked_until, expires_at }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_count_in_their_window_and_lock_at_the_limit() {
        let mut counter = Failures::default();
        for i in 1..MAX_FAILURES {
            counter = counter.after_failure(1_000 + i);
            assert_eq!((counter.failures, counter.window_start, counter.locked_until), (i, 1_001, None));
        }
        let locked = counter.after_failure(1_100);
        assert_eq!(locked.failures, MAX_FAILURES);
        assert_eq!(locked.locked_until, Some(1_100 + LOCK_SECONDS));
        assert!(locked.is_locked(1_100) && !locked.is_locked(1_100 + LOCK_SECONDS));
        assert_eq!(locked.expires_at, 1_100 + LOCK_SECONDS, "lives until the lock is over");
        assert!(locked.expires_at >= locked.window_start + WINDOW_SECONDS);
    }

    #[test]
    fn a_failure_after_the_window_starts_a_new_one() {
        let old = Failures { failures: 3, window_start: 1_000, locked_until: None, expires_at: 1_900 };
        let next = old.after_failure(1_000 + WINDOW_SECONDS);
        assert_eq!((next.failures, next.window_start, next.locked_until), (1, 1_000 + WINDOW_SECONDS, None));
        assert_eq!(next.expires_at, 1_000 + 2 * WINDOW_SECONDS);
    }
}

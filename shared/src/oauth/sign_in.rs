//! Checking a username and password: for the `password` grant and the sign-in page alike.
//!
//! A wrong password, an unknown or unacceptable username and a locked username all come back
//! as the same `None` after the same argon2 work ([`crate::password`]), so neither the answer
//! nor its timing tells them apart.

use crate::App;
use crate::oauth::error::Error;
use crate::password::verify_password_blocking;
use crate::store::passwords::normalize_username;

/// The user id when `password` is right for `username` and the username is not locked; the
/// same work and the same `None` otherwise.
///
/// The attempt is counted as a failure before the password is checked and the count cleared on
/// success: a burst of concurrent guesses gets no more than the lockout allows.
pub async fn sign_in(app: &App, username: &str, password: &str, now: i64) -> Result<Option<String>, Error> {
    let Some(name) = normalize_username(username) else {
        verify_password_blocking(password.to_string(), None).await;
        return Ok(None);
    };
    let (allowed, user) =
        tokio::try_join!(app.store.admit_password_attempt(&name, now), app.store.password_user(&name))?;
    let (user_id, stored) = match user {
        Some((id, hash)) if allowed => (Some(id), Some(hash)),
        _ => (None, None), // burns the same work on a dummy hash
    };
    if verify_password_blocking(password.to_string(), stored).await {
        app.store.clear_password_failures(&name).await?;
        return Ok(user_id);
    }
    Ok(None)
}

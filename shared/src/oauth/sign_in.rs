//! Checking a username and password: for the `password` grant and the sign-in page alike.
//!
//! A wrong password, an unknown or unacceptable username and a locked username all come back
//! as the same `None` after the same argon2 work ([`crate::password`]), so neither the answer
//! nor its timing tells them apart.

use crate::App;
use crate::domain::lockout::Admission;
use crate::domain::username::normalize_username;
use crate::error::Error;
use crate::password::verify_password_blocking;

/// The user id when `password` is right for `username` and the username is not locked; the
/// same work and the same `None` otherwise.
///
/// Checks of one username take turns ([`crate::store::password_failures`]): a burst of
/// concurrent guesses gets no more checks than the lockout allows, and a right password is never
/// refused because other sign-ins of the same user are in flight.
pub async fn sign_in(app: &App, username: &str, password: &str, now: i64) -> Result<Option<String>, Error> {
    let Some(name) = normalize_username(username) else {
        verify_password_blocking(password.to_string(), None).await;
        return Ok(None);
    };
    let wait = app.config.aws_timeouts.call;
    let (admission, user) =
        tokio::try_join!(app.store.begin_password_attempt(&name, now, wait), app.store.password_user(&name))?;
    let Admission::Check(attempt) = admission else {
        verify_password_blocking(password.to_string(), None).await; // the same work as a check
        return Ok(None);
    };
    let (user_id, stored) = user.map(|(id, hash)| (Some(id), Some(hash))).unwrap_or_default();
    if verify_password_blocking(password.to_string(), stored).await {
        app.store.clear_password_failures(&name).await?;
        return Ok(user_id);
    }
    app.store.password_failed(attempt, now, wait).await?;
    Ok(None)
}

//! `password` (RFC 6749 §4.3), for clients explicitly allowed it (first-party apps migrating
//! off passwords; RFC 9700 §2.4 says it "MUST NOT be used" for anything else).
//!
//! A wrong password, an unknown user and a locked username all answer the same
//! `invalid_grant` after the same argon2 work: nothing tells them apart. Repeated failures lock
//! the username for a while ([`crate::store::passwords`]).

use super::TokenResponse;
use crate::App;
use crate::http::Form;
use crate::oauth::error::{Error, OAuthError};
use crate::oauth::scope::Scope;
use crate::store::clients::Client;
use crate::tokens::{access, refresh};

pub const GRANT_TYPE: &str = "password";
pub const PARAMETERS: &[&str] = &["username", "password", "scope"];

pub async fn grant(app: &App, client: &Client, form: &Form, now: i64) -> Result<TokenResponse, Error> {
    let username = form.require("username")?;
    let password = form.require("password")?;
    let scope = Scope::grant(form.get("scope"), &client.scope)?;
    let Some(user_id) = sign_in(app, username, password, now).await? else {
        return Err(OAuthError::invalid_grant("wrong username or password").into());
    };
    let access = access::issue(app, &user_id, client, &scope, now).await?;
    let refresh = refresh::issue(app, client, &user_id, &scope, now).await?;
    Ok(TokenResponse::new(app, access, refresh.map(|r| r.token), &scope))
}

/// The user id when `password` is right for `username` and the username is not locked; the
/// same work and the same `None` otherwise. Shared with the sign-in page.
///
/// The attempt is counted as a failure before the password is checked and the count cleared on
/// success: a burst of concurrent guesses gets no more than the lockout allows.
pub async fn sign_in(app: &App, username: &str, password: &str, now: i64) -> Result<Option<String>, Error> {
    let Some(name) = crate::store::passwords::normalize_username(username) else {
        crate::password::verify_password_blocking(password.to_string(), None).await;
        return Ok(None);
    };
    let (allowed, user) =
        tokio::try_join!(app.store.admit_password_attempt(&name, now), app.store.password_user(&name))?;
    let (user_id, stored) = match user {
        Some((id, hash)) if allowed => (Some(id), Some(hash)),
        _ => (None, None), // burns the same work on a dummy hash
    };
    if crate::password::verify_password_blocking(password.to_string(), stored).await {
        app.store.clear_password_failures(&name).await?;
        return Ok(user_id);
    }
    Ok(None)
}

//! `password` (RFC 6749 §4.3), for clients explicitly allowed it (first-party apps migrating
//! off passwords; RFC 9700 §2.4 says it "MUST NOT be used" for anything else).
//!
//! A wrong password, an unknown user and a locked username all answer the same
//! `invalid_grant` after the same argon2 work: nothing tells them apart. Repeated failures lock
//! the username for a while ([`crate::oauth::sign_in`], [`crate::store::password_failures`]).

use super::{TokenResponse, user_tokens};
use crate::App;
use crate::domain::browser_session::SignInMethod;
use crate::domain::client::Client;
use crate::error::{Error, OAuthError};
use crate::oauth::sign_in::sign_in;
use crate::params::Params;
use crate::scope::Scope;
use crate::tokens::id::Authentication;
use crate::tokens::refresh;

pub const GRANT_TYPE: &str = crate::grant_type::PASSWORD;
pub const PARAMETERS: &[&str] = &["username", "password", "scope"];

pub async fn grant(app: &App, client: &Client, params: &Params, now: i64) -> Result<TokenResponse, Error> {
    let username = params.require("username")?;
    let password = params.require("password")?;
    let scope = Scope::grant(params.get("scope"), &client.scope)?;
    let Some(user_id) = sign_in(app, username, password, now).await? else {
        return Err(OAuthError::invalid_grant("wrong username or password").into());
    };
    let authentication = Authentication::now(now, Some(SignInMethod::Password));
    let (access, id_token) = user_tokens(app, client, &user_id, &scope, &authentication, now).await?;
    let refresh = refresh::issue(app, client, &user_id, &scope, &authentication, now).await?;
    Ok(TokenResponse { id_token, ..TokenResponse::new(app, access, refresh.map(|r| r.token), &scope) })
}

//! `refresh_token` (RFC 6749 §6), with rotation and reuse detection ([`crate::tokens::refresh`]).

use super::TokenResponse;
use crate::App;
use crate::http::Form;
use crate::oauth::error::Error;
use crate::oauth::scope::Scope;
use crate::store::clients::Client;
use crate::tokens::{access, refresh};

pub const GRANT_TYPE: &str = "refresh_token";
pub const PARAMETERS: &[&str] = &["refresh_token", "scope"];

pub async fn grant(
    app: &App,
    client: &Client,
    form: &Form,
    now: i64,
) -> Result<TokenResponse, Error> {
    let presented = form.require("refresh_token")?;
    // Parsed before the token is spent: a malformed request must not rotate it.
    let requested = form.get("scope").map(Scope::parse).transpose()?;
    let next = refresh::rotate(app, client, presented, requested.as_ref(), now).await?;
    // The new refresh token keeps the original scope; only this access token is narrowed.
    let scope = requested.unwrap_or_else(|| next.record.scope.clone());
    let access = access::issue(app, &next.record.subject, client, &scope, now).await?;
    Ok(TokenResponse {
        access_token: access.jwt,
        token_type: "Bearer",
        expires_in: app.config.access_token_ttl.as_secs(),
        refresh_token: Some(next.token),
        scope: scope.to_string(),
        openid: None,
        unionid: None,
    })
}

//! `refresh_token` (RFC 6749 §6), with rotation and reuse detection ([`crate::tokens::refresh`]).
//! With `openid` in the (possibly narrowed) scope a new ID token comes too (OpenID Connect Core
//! §12.2), with the original sign-in's `auth_time` and no `nonce`.

use super::{TokenResponse, user_tokens};
use crate::App;
use crate::domain::client::Client;
use crate::error::{Error, OAuthError};
use crate::params::Params;
use crate::scope::Scope;
use crate::tokens::refresh;

pub const GRANT_TYPE: &str = crate::grant_type::REFRESH_TOKEN;
pub const PARAMETERS: &[&str] = &["refresh_token", "scope"];

pub async fn grant(app: &App, client: &Client, params: &Params, now: i64) -> Result<TokenResponse, Error> {
    let presented = params.require("refresh_token")?;
    // Parsed before the token is touched: a malformed request must not rotate it.
    let requested = params.get("scope").map(Scope::parse).transpose()?;
    let rotation = refresh::prepare(app, client, presented, now).await?;
    let granted = &rotation.next.record.scope;
    // RFC 6749 §6: the scope "MUST NOT include any scope not originally granted".
    if requested.as_ref().is_some_and(|r| !r.is_subset_of(granted)) {
        return Err(OAuthError::invalid_scope("the requested scope exceeds the original grant").into());
    }
    // Only this access token is narrowed; the new refresh token keeps the grant.
    let scope = requested.unwrap_or_else(|| granted.clone());
    let authentication = refresh::authentication(&rotation.next.record);
    let subject = rotation.next.record.subject.clone();
    let (access, id_token) = user_tokens(app, client, &subject, &scope, &authentication, now).await?;
    let next = refresh::commit(app, rotation, now).await?;
    Ok(TokenResponse { id_token, ..TokenResponse::new(app, access, Some(next.token), &scope) })
}

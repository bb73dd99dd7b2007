//! `client_credentials` (RFC 6749 §4.4): a confidential client acting for itself. "The client
//! credentials grant type MUST only be used by confidential clients"; "A refresh token SHOULD
//! NOT be included." The token's subject is the client.

use super::TokenResponse;
use crate::App;
use crate::domain::client::Client;
use crate::error::{Error, OAuthError};
use crate::params::Params;
use crate::scope::Scope;
use crate::tokens::access;

pub const GRANT_TYPE: &str = crate::grant_type::CLIENT_CREDENTIALS;
pub const PARAMETERS: &[&str] = &["scope"];

pub async fn grant(app: &App, client: &Client, params: &Params, now: i64) -> Result<TokenResponse, Error> {
    if !client.is_confidential() {
        return Err(OAuthError::unauthorized_client("client_credentials is for confidential clients only").into());
    }
    let scope = Scope::grant(params.get("scope"), &client.scope)?;
    let access = access::issue(app, &client.id, client, &scope, now).await?;
    Ok(TokenResponse::new(app, access, None, &scope))
}

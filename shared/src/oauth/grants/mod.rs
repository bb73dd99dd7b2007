//! The token endpoint's grants: one module each, each declaring its `GRANT_TYPE` and the
//! `PARAMETERS` it reads. The dispatcher checks that the client may use the grant, drops every
//! parameter the grant did not declare, and runs it.

pub mod authorization_code;
pub mod client_credentials;
pub mod device_code;
pub mod password;
pub mod refresh_token;
pub mod wechat;

use serde::Serialize;

use crate::App;
use crate::domain::client::Client;
use crate::error::{Error, OAuthError};
use crate::grant_type;
use crate::metrics::{self, Metric};
use crate::params::Params;
use crate::scope::Scope;
use crate::tokens::access::{self, AccessToken};
use crate::tokens::id::{self, Authentication};

/// The successful token response (RFC 6749 §5.1), the OpenID Connect `id_token`, plus the
/// WeChat grant's `openid`/`unionid`.
#[derive(Clone, Serialize, PartialEq, Eq)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub openid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unionid: Option<String>,
}

impl TokenResponse {
    /// A Bearer token response for `access`, with `refresh_token` when one was issued.
    pub fn new(app: &App, access: AccessToken, refresh_token: Option<String>, scope: &Scope) -> Self {
        Self {
            access_token: access.jwt,
            token_type: "Bearer",
            expires_in: app.config.access_token_ttl.as_secs(),
            refresh_token,
            scope: scope.to_string(),
            id_token: None,
            openid: None,
            unionid: None,
        }
    }
}

/// A user's access token and, when the scope contains `openid`, the ID token beside it (signed
/// after it: its `at_hash` covers the access token).
pub(crate) async fn user_tokens(
    app: &App,
    client: &Client,
    subject: &str,
    scope: &Scope,
    authentication: &Authentication,
    now: i64,
) -> Result<(AccessToken, Option<String>), Error> {
    let access = access::issue(app, subject, client, scope, now).await?;
    let id_token = id::issue(app, client, &access, scope, authentication, now).await?;
    Ok((access, id_token))
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("scope", &self.scope)
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// Runs the grant named by `grant_type` for an authenticated `client`.
pub async fn exchange(app: &App, client: &Client, params: &Params, now: i64) -> Result<TokenResponse, Error> {
    let grant_type = params.require("grant_type")?;
    if !grant_type::ALL.contains(&grant_type) {
        return Err(OAuthError::unsupported_grant_type("this grant type is not supported").into());
    }
    if !client.allows_grant(grant_type) {
        return Err(OAuthError::unauthorized_client("this client may not use this grant type").into());
    }
    let issued = match grant_type {
        wechat::GRANT_TYPE => wechat::grant(app, client, &params.only(wechat::PARAMETERS), now).await,
        refresh_token::GRANT_TYPE => {
            refresh_token::grant(app, client, &params.only(refresh_token::PARAMETERS), now).await
        }
        authorization_code::GRANT_TYPE => {
            authorization_code::grant(app, client, &params.only(authorization_code::PARAMETERS), now).await
        }
        client_credentials::GRANT_TYPE => {
            client_credentials::grant(app, client, &params.only(client_credentials::PARAMETERS), now).await
        }
        password::GRANT_TYPE => password::grant(app, client, &params.only(password::PARAMETERS), now).await,
        device_code::GRANT_TYPE => device_code::grant(app, client, &params.only(device_code::PARAMETERS), now).await,
        _ => Err(OAuthError::unsupported_grant_type("this grant type is not supported").into()),
    };
    if issued.is_ok() {
        count_issued(metric_name(grant_type), client);
    }
    issued
}

/// Counts an access token issued by `grant` (a short name: `wechat`, `implicit`, ...).
pub fn count_issued(grant: &str, client: &Client) {
    metrics::count(Metric::TokensIssued, &[("Grant", grant), ("ClientKind", client.kind.as_str())]);
}

/// A grant's name as a metric dimension: the URNs shortened.
fn metric_name(grant_type: &str) -> &str {
    match grant_type {
        wechat::GRANT_TYPE => "wechat",
        device_code::GRANT_TYPE => "device_code",
        other => other,
    }
}

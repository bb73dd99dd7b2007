//! Access tokens: JWTs per RFC 9068 (`typ: at+jwt`), signed by the active key ([`super::jws`]).

use crate::App;
use crate::domain::access_claims::AccessClaims;
use crate::domain::client::Client;
use crate::error::Error;
use crate::scope::Scope;
use crate::secret::random_id;

/// A signed access token and what it says.
#[derive(Clone)]
pub struct AccessToken {
    pub jwt: String,
    pub claims: AccessClaims,
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessToken").field("jwt", &"..").field("claims", &self.claims).finish()
    }
}

/// Issues an access token for `subject` to `client`.
pub async fn issue(app: &App, subject: &str, client: &Client, scope: &Scope, now: i64) -> Result<AccessToken, Error> {
    let claims = AccessClaims {
        iss: app.config.issuer.clone(),
        sub: subject.to_string(),
        aud: client.audience.clone().unwrap_or_else(|| app.config.audience.clone()),
        exp: now + app.config.access_token_ttl.as_secs() as i64,
        iat: now,
        jti: random_id(),
        client_id: client.id.clone(),
        scope: scope.to_string(),
    };
    let jwt = super::jws::sign(app, "at+jwt", &claims, now).await?;
    Ok(AccessToken { jwt, claims })
}

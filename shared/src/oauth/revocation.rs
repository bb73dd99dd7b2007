//! Token revocation (RFC 7009).
//!
//! A refresh token revokes its whole family; an access token goes on the deny list until it
//! expires. "The authorization server responds with HTTP status code 200 if the token has been
//! revoked successfully or if the client submitted an invalid token": an unknown, expired or
//! malformed token changes nothing and is no error. A token issued to another client is refused
//! (§2.1: "If this validation fails, the request is refused and the client is informed").

use crate::App;
use crate::domain::client::Client;
use crate::error::{Error, OAuthError};
use crate::keys::verify::verify_access_token;
use crate::secret::hash;

/// `token_type_hint`: which kind of token to look for first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hint {
    RefreshToken,
    AccessToken,
}

impl Hint {
    /// Unknown hints are ignored (§2.1: the server "MUST extend its search across all of its
    /// supported token types"): they change only the order of the search.
    pub fn parse(value: Option<&str>) -> Self {
        if value == Some("access_token") { Hint::AccessToken } else { Hint::RefreshToken }
    }
}

/// Revokes `token` if it is one of `client`'s.
pub async fn revoke(app: &App, client: &Client, token: &str, hint: Hint, now: i64) -> Result<(), Error> {
    match hint {
        Hint::RefreshToken => {
            if !revoke_refresh_token(app, client, token, now).await? {
                revoke_access_token(app, client, token, now).await?;
            }
        }
        Hint::AccessToken => {
            if !revoke_access_token(app, client, token, now).await? {
                revoke_refresh_token(app, client, token, now).await?;
            }
        }
    }
    Ok(())
}

fn foreign() -> Error {
    OAuthError::unauthorized_client("the token was not issued to this client").into()
}

/// `true` when `token` was one of our refresh tokens (revoked now, or refused).
async fn revoke_refresh_token(app: &App, client: &Client, token: &str, now: i64) -> Result<bool, Error> {
    let Some(record) = app.store.refresh_token(&hash(token), now).await? else { return Ok(false) };
    if record.client_id != client.id {
        return Err(foreign());
    }
    app.store.revoke_family(&record.family_id, now).await?;
    Ok(true)
}

/// `true` when `token` was one of our live access tokens (revoked now, or refused).
async fn revoke_access_token(app: &App, client: &Client, token: &str, now: i64) -> Result<bool, Error> {
    let Ok(claims) = verify_access_token(&app.keys, token, &app.config.issuer, None, now).await? else {
        return Ok(false);
    };
    if claims.client_id != client.id {
        return Err(foreign());
    }
    app.store.revoke_access_token(claims.id(), now).await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hint_only_orders_the_search() {
        assert_eq!(Hint::parse(Some("access_token")), Hint::AccessToken);
        assert_eq!(Hint::parse(Some("refresh_token")), Hint::RefreshToken);
        assert_eq!(Hint::parse(Some("id_token")), Hint::RefreshToken);
        assert_eq!(Hint::parse(None), Hint::RefreshToken);
    }
}

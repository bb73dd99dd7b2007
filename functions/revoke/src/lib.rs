//! `POST /oauth/revoke` (RFC 7009).
//!
//! A refresh token revokes its whole family; an access token goes on the deny list until it
//! expires. "The authorization server responds with HTTP status code 200 if the token has been
//! revoked successfully or if the client submitted an invalid token": an unknown, expired or
//! malformed token answers 200 and changes nothing. A token issued to another client is refused
//! (§2.1: "If this validation fails, the request is refused and the client is informed").

use wxauth::App;
use wxauth::http::{self, Request, Response};
use wxauth::keys::verify::verify_access_token;
use wxauth::oauth::client_auth;
use wxauth::oauth::error::{Error, OAuthError};
use wxauth::store::clients::Client;
use wxauth::tokens::secret::hash;

pub async fn handle(app: &App, req: Request) -> Response {
    http::respond(revoke(app, &req).await)
}

async fn revoke(app: &App, req: &Request) -> Result<Response, Error> {
    let form = http::form(req)?;
    let client = client_auth::authenticate(app, req.headers(), &form).await?;
    let token = form.require("token")?;
    let now = wxauth::unix_now();
    // The hint only orders the search (§2.1: the server "MUST extend its search across all of
    // its supported token types").
    let refresh_first = form.get("token_type_hint") != Some("access_token");
    if refresh_first {
        if !revoke_refresh_token(app, &client, token, now).await? {
            revoke_access_token(app, &client, token, now).await?;
        }
    } else if !revoke_access_token(app, &client, token, now).await? {
        revoke_refresh_token(app, &client, token, now).await?;
    }
    Ok(http::no_store(http::json_response(200, &serde_json::json!({}))))
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
    app.store.revoke_access_token(&claims.jti, claims.exp, now).await?;
    Ok(true)
}

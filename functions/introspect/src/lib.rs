//! `POST /oauth/introspect` (RFC 7662), for confidential clients: a resource server asks
//! whether a token is active and what it carries.
//!
//! A caller sees a token as active only if it was issued to the caller, or (access tokens) is
//! meant for the caller's registered audience: a resource server learns nothing about tokens
//! that are not its business. Anything expired, revoked, used, malformed, not ours or not the
//! caller's business is `{"active": false}`, with nothing else.

use serde_json::{Value, json};
use wxauth::App;
use wxauth::http::{self, Request, Response};
use wxauth::keys::verify::verify_access_token;
use wxauth::oauth::client_auth;
use wxauth::oauth::error::Error;
use wxauth::store::clients::Client;
use wxauth::tokens::secret::hash;

pub async fn handle(app: &App, req: Request) -> Response {
    http::respond(introspect(app, &req).await)
}

async fn introspect(app: &App, req: &Request) -> Result<Response, Error> {
    let form = http::form(req)?;
    let caller = client_auth::authenticate_confidential(app, req.headers(), &form).await?;
    let token = form.require("token")?;
    let now = wxauth::unix_now();
    let answer = match access_token(app, &caller, token, now).await? {
        Some(answer) => answer,
        None => refresh_token(app, &caller, token, now).await?.unwrap_or_else(|| json!({"active": false})),
    };
    Ok(http::no_store(http::json_response(200, &answer)))
}

async fn access_token(app: &App, caller: &Client, token: &str, now: i64) -> Result<Option<Value>, Error> {
    let Ok(claims) = verify_access_token(&app.keys, token, &app.config.issuer, None, now).await? else {
        return Ok(None);
    };
    let visible = claims.client_id == caller.id || resource_server_of(app, caller, &claims.aud);
    if !visible || app.store.is_access_token_revoked(&claims.jti, now).await? {
        return Ok(Some(json!({"active": false})));
    }
    Ok(Some(json!({
        "active": true,
        "scope": claims.scope,
        "client_id": claims.client_id,
        "sub": claims.sub,
        "token_type": "Bearer",
        "exp": claims.exp,
        "iat": claims.iat,
        "iss": claims.iss,
        "aud": claims.aud,
        "jti": claims.jti,
    })))
}

/// Whether `caller` is registered as the resource server of the audience `aud`. Never for the
/// deployment's default audience or the issuer: every token without an audience of its own
/// carries it, so such a registration would show the caller every user's tokens.
fn resource_server_of(app: &App, caller: &Client, aud: &str) -> bool {
    caller.audience.as_deref() == Some(aud) && !app.config.is_shared_audience(aud)
}

async fn refresh_token(app: &App, caller: &Client, token: &str, now: i64) -> Result<Option<Value>, Error> {
    let Some(record) = app.store.refresh_token(&hash(token), now).await? else { return Ok(None) };
    if record.client_id != caller.id || record.used_at.is_some() {
        return Ok(None);
    }
    let family_live = app.store.family(&record.family_id, now).await?.is_some_and(|f| !f.revoked);
    if !family_live {
        return Ok(None);
    }
    Ok(Some(json!({
        "active": true,
        "scope": record.scope.to_string(),
        "client_id": record.client_id,
        "sub": record.subject,
        "token_type": "refresh_token",
        "exp": record.expires_at,
        "iat": record.issued_at,
        "iss": app.config.issuer,
    })))
}

//! Token introspection (RFC 7662), for confidential clients: a resource server asks whether a
//! token is active and what it carries.
//!
//! A caller sees a token as active only if it was issued to the caller, or (access tokens) is
//! meant for the caller's registered audience: a resource server learns nothing about tokens
//! that are not its business. Anything expired, revoked, used, malformed, not ours or not the
//! caller's business is `{"active": false}`, with nothing else.

use serde_json::{Value, json};

use crate::App;
use crate::domain::client::Client;
use crate::error::Error;
use crate::keys::verify::verify_access_token;
use crate::secret::hash;

/// The introspection response (RFC 7662 §2.2) for `token`, as `caller` may see it.
pub async fn introspect(app: &App, caller: &Client, token: &str, now: i64) -> Result<Value, Error> {
    Ok(match access_token(app, caller, token, now).await? {
        Some(answer) => answer,
        None => refresh_token(app, caller, token, now).await?.unwrap_or_else(inactive),
    })
}

fn inactive() -> Value {
    json!({"active": false})
}

async fn access_token(app: &App, caller: &Client, token: &str, now: i64) -> Result<Option<Value>, Error> {
    let Ok(claims) = verify_access_token(&app.keys, token, &app.config.issuer, None, now).await? else {
        return Ok(None);
    };
    let visible = claims.client_id == caller.id || resource_server_of(app, caller, &claims.aud);
    if !visible || app.store.is_access_token_revoked(&claims.jti, now).await? {
        return Ok(Some(inactive()));
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

//! Refresh tokens: issue, rotate, detect reuse.
//!
//! RFC 9700 §4.14.2: "the authorization server issues a new refresh token with every access
//! token refresh response ... If a refresh token is compromised and subsequently used by both the
//! attacker and the legitimate client, one of them will present an invalidated refresh token,
//! which will inform the authorization server of the breach ... [it] cannot determine which party
//! submitted the invalid refresh token, but it will revoke the active refresh token."
//!
//! So a rotated token presented again revokes its whole family. `REFRESH_REUSE_GRACE` (0 by
//! default) lets a token rotated within the last few seconds be presented again without that
//! (a client whose response got lost); it then gets a new token in the same family.

use super::secret::{hash, random_id, random_token};
use crate::App;
use crate::oauth::error::{Error, OAuthError};
use crate::oauth::scope::Scope;
use crate::store::clients::Client;
use crate::store::refresh_tokens::{Family, RefreshToken, Written};

/// A refresh token handed to a client, and its stored record.
#[derive(Debug, Clone)]
pub struct IssuedRefreshToken {
    pub token: String,
    pub record: RefreshToken,
}

fn new_token(
    app: &App,
    family_id: &str,
    client_id: &str,
    subject: &str,
    scope: &Scope,
    now: i64,
) -> IssuedRefreshToken {
    let token = random_token();
    let record = RefreshToken {
        hash: hash(&token),
        family_id: family_id.to_string(),
        client_id: client_id.to_string(),
        subject: subject.to_string(),
        scope: scope.clone(),
        issued_at: now,
        expires_at: now + app.config.refresh_token_ttl.as_secs() as i64,
        used_at: None,
    };
    IssuedRefreshToken { token, record }
}

/// Starts a new family (one per grant) with its first token.
pub async fn issue(
    app: &App,
    client: &Client,
    subject: &str,
    scope: &Scope,
    now: i64,
) -> Result<IssuedRefreshToken, Error> {
    let issued = new_token(app, &random_id(), &client.id, subject, scope, now);
    let family = Family {
        id: issued.record.family_id.clone(),
        client_id: client.id.clone(),
        subject: subject.to_string(),
        revoked: false,
        created_at: now,
        expires_at: issued.record.expires_at,
    };
    app.store.create_family(&family, &issued.record).await?;
    Ok(issued)
}

fn invalid() -> Error {
    OAuthError::invalid_grant("the refresh token is invalid, expired or revoked").into()
}

/// Exchanges `presented` for its successor; the old token is dead afterwards. A `narrower`
/// scope is checked against the original grant before anything is written.
pub async fn rotate(
    app: &App,
    client: &Client,
    presented: &str,
    narrower: Option<&Scope>,
    now: i64,
) -> Result<IssuedRefreshToken, Error> {
    let Some(old) = app.store.refresh_token(&hash(presented), now).await? else {
        return Err(invalid());
    };
    // RFC 6749 §6: "ensure that the refresh token was issued to the authenticated client".
    if old.client_id != client.id {
        return Err(invalid());
    }
    // RFC 6749 §6: the scope "MUST NOT include any scope not originally granted".
    if narrower.is_some_and(|scope| !scope.is_subset_of(&old.scope)) {
        return Err(
            OAuthError::invalid_scope("the requested scope exceeds the original grant").into(),
        );
    }
    let next = new_token(
        app,
        &old.family_id,
        &old.client_id,
        &old.subject,
        &old.scope,
        now,
    );
    if let Some(used_at) = old.used_at {
        return reissue_or_revoke(app, &old, used_at, next, now).await;
    }
    match app
        .store
        .rotate_refresh_token(&old, &next.record, now)
        .await?
    {
        Written::Yes => Ok(next),
        Written::LostRace => {
            // Either a concurrent rotation used the token first (reuse), or the family was revoked.
            match app
                .store
                .refresh_token(&old.hash, now)
                .await?
                .and_then(|t| t.used_at)
            {
                Some(used_at) => reissue_or_revoke(app, &old, used_at, next, now).await,
                None => Err(invalid()),
            }
        }
    }
}

async fn reissue_or_revoke(
    app: &App,
    old: &RefreshToken,
    used_at: i64,
    next: IssuedRefreshToken,
    now: i64,
) -> Result<IssuedRefreshToken, Error> {
    let grace = app.config.refresh_reuse_grace.as_secs() as i64;
    if grace > 0 && now - used_at < grace {
        return match app.store.add_refresh_token(&next.record).await? {
            Written::Yes => Ok(next),
            Written::LostRace => Err(invalid()),
        };
    }
    tracing::warn!(family = %old.family_id, client_id = %old.client_id, "refresh token reused: revoking its family");
    app.store.revoke_family(&old.family_id, now).await?;
    Err(invalid())
}

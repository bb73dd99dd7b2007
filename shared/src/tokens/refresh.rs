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
//! (a client whose response got lost): its successor is retired and replaced, so the family
//! still has a single live token, and a client that did receive the successor and used it trips
//! reuse detection.
//!
//! A rotation is prepared (read and checked), then the access token is signed, and only then is
//! the rotation committed: a KMS failure must not spend the client's refresh token.

use crate::App;
use crate::domain::client::Client;
use crate::domain::refresh_token::{Family, RefreshToken};
use crate::error::{Error, OAuthError};
use crate::metrics::{self, Metric};
use crate::scope::Scope;
use crate::secret::{hash, random_id, random_token};
use crate::store::Written;
use crate::tokens::id::Authentication;

/// The scope that lets a grant outlive the browser session it was made in.
pub const OFFLINE_ACCESS: &str = "offline_access";

/// A refresh token handed to a client, and its stored record.
#[derive(Clone)]
pub struct IssuedRefreshToken {
    pub token: String,
    pub record: RefreshToken,
}

impl std::fmt::Debug for IssuedRefreshToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedRefreshToken").field("token", &"..").field("record", &self.record).finish()
    }
}

/// The sign-in a family carries from token to token, for every ID token issued from `token`
/// (no `nonce`: never on refresh).
pub fn authentication(token: &RefreshToken) -> Authentication {
    Authentication { auth_time: token.auth_time, nonce: None, sid: token.sid.clone(), method: token.method }
}

fn new_token(
    app: &App,
    family_id: &str,
    client_id: &str,
    subject: &str,
    scope: &Scope,
    sign_in: &Authentication,
    now: i64,
) -> IssuedRefreshToken {
    let token = random_token();
    let record = RefreshToken {
        hash: hash(&token),
        family_id: family_id.to_string(),
        client_id: client_id.to_string(),
        subject: subject.to_string(),
        scope: scope.clone(),
        auth_time: sign_in.auth_time,
        sid: sign_in.sid.clone(),
        method: sign_in.method,
        issued_at: now,
        expires_at: now + app.config.refresh_token_ttl.as_secs() as i64,
        used_at: None,
        replaced_by: None,
        superseded: false,
    };
    IssuedRefreshToken { token, record }
}

/// Starts a new family (one per grant) with its first token, for a user who signed in as
/// `sign_in` says. `None` when the client may not refresh.
pub async fn issue(
    app: &App,
    client: &Client,
    subject: &str,
    scope: &Scope,
    sign_in: &Authentication,
    now: i64,
) -> Result<Option<IssuedRefreshToken>, Error> {
    issue_in_family(app, client, subject, scope, sign_in, &random_id(), now).await
}

/// [`issue`] with a family id chosen beforehand (an authorization code records it first).
pub async fn issue_in_family(
    app: &App,
    client: &Client,
    subject: &str,
    scope: &Scope,
    sign_in: &Authentication,
    family_id: &str,
    now: i64,
) -> Result<Option<IssuedRefreshToken>, Error> {
    if !client.allows_grant(crate::grant_type::REFRESH_TOKEN) {
        return Ok(None);
    }
    let issued = new_token(app, family_id, &client.id, subject, scope, sign_in, now);
    // OpenID Connect Core §11: a grant with `offline_access` outlives the browser session.
    let session_sid = sign_in.sid.clone().filter(|_| !scope.contains(OFFLINE_ACCESS));
    let family = Family {
        id: issued.record.family_id.clone(),
        client_id: client.id.clone(),
        subject: subject.to_string(),
        session_sid,
        revoked: false,
        created_at: now,
        expires_at: issued.record.expires_at,
    };
    app.store.create_family(&family, &issued.record).await?;
    Ok(Some(issued))
}

fn invalid() -> Error {
    OAuthError::invalid_grant("the refresh token is invalid, expired or revoked").into()
}

/// A checked, not yet committed rotation.
#[derive(Debug)]
pub struct Rotation {
    old: RefreshToken,
    /// Set on the reuse-grace path: the successor `old` was rotated into.
    replacing: Option<String>,
    pub next: IssuedRefreshToken,
}

/// Reads and checks `presented` for `client`. The scope of the new refresh token is the
/// original grant, less whatever the client may no longer have. A reused token revokes its
/// family here.
pub async fn prepare(app: &App, client: &Client, presented: &str, now: i64) -> Result<Rotation, Error> {
    let Some(old) = app.store.refresh_token(&hash(presented), now).await? else { return Err(invalid()) };
    // RFC 6749 §6: "ensure that the refresh token was issued to the authenticated client".
    if old.client_id != client.id {
        return Err(invalid());
    }
    let scope = old.scope.intersection(&client.scope);
    let next = new_token(app, &old.family_id, &old.client_id, &old.subject, &scope, &authentication(&old), now);
    let replacing = match (old.used_at, &old.replaced_by) {
        (None, _) => None,
        (Some(used_at), Some(successor)) if !old.superseded && within_grace(app, used_at, now) => {
            Some(successor.clone())
        }
        (Some(_), _) => return Err(revoke_for_reuse(app, &old, now).await),
    };
    Ok(Rotation { old, replacing, next })
}

/// Commits a prepared rotation; the presented token is dead afterwards.
pub async fn commit(app: &App, rotation: Rotation, now: i64) -> Result<IssuedRefreshToken, Error> {
    let Rotation { old, replacing, next } = rotation;
    let written = match &replacing {
        None => app.store.rotate_refresh_token(&old, &next.record, now).await?,
        Some(successor) => app.store.replace_successor(&old, successor, &next.record, now).await?,
    };
    if written == Written::Yes {
        return Ok(next);
    }
    // A condition failed: a concurrent request used the token (or, on the grace path, the
    // successor) first, or the family was revoked; or our own write took effect and its answer
    // was lost, so that the SDK's retry found the token used (DynamoDB's idempotency token
    // normally answers such a retry itself, but only for 10 minutes and only as long as the
    // request is the same). Read again to tell these apart.
    let current = app.store.refresh_token(&old.hash, now).await?;
    if current.as_ref().is_some_and(|t| t.replaced_by.as_deref() == Some(next.record.hash.as_str())) {
        return Ok(next);
    }
    let raced = current.is_some_and(|t| t.used_at.is_some() && t.replaced_by != replacing);
    let successor_used = match &replacing {
        Some(successor) => app.store.refresh_token(successor, now).await?.is_some_and(|t| t.used_at.is_some()),
        None => false,
    };
    if raced || successor_used {
        return Err(revoke_for_reuse(app, &old, now).await);
    }
    Err(invalid())
}

fn within_grace(app: &App, used_at: i64, now: i64) -> bool {
    now - used_at < app.config.refresh_reuse_grace.as_secs() as i64
}

async fn revoke_for_reuse(app: &App, token: &RefreshToken, now: i64) -> Error {
    tracing::warn!(family = %token.family_id, client_id = %token.client_id, "refresh token reused: revoking its family");
    metrics::count(Metric::RefreshTokenReuse, &[]);
    match app.store.revoke_family(&token.family_id, now).await {
        Ok(()) => invalid(),
        Err(e) => e,
    }
}

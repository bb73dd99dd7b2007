//! Authorization codes (RFC 6749 §4.1.2): opaque, 256 bits of randomness, stored only by their
//! SHA-256 ([`crate::store::authorizations`]), short-lived (`AUTHORIZATION_CODE_TTL`, 60 s by
//! default) and redeemed once.
//!
//! A redemption records, in the same conditional write that marks the code used, the
//! refresh-token family and the access token it issued. A replay finds them and revokes them:
//! "If an authorization code is used more than once, the authorization server MUST deny the
//! request and SHOULD revoke (when possible) all tokens previously issued based on that
//! authorization code."

use super::access::AccessToken;
use crate::App;
use crate::domain::access_claims::AccessTokenId;
use crate::domain::authorization::{AuthorizationCode, PendingAuthorization, Redemption};
use crate::domain::browser_session::BrowserSession;
use crate::error::Error;
use crate::scope::Scope;
use crate::secret::{hash, random_token};
use crate::store::Written;

/// Issues a code for the request `pending`, approved by the user of `session`, for `scope`;
/// returns the code itself, which is stored nowhere. The code carries the request's `nonce` and
/// the session's sign-in (`auth_time`, `sid`, method) to the ID token.
pub async fn issue(
    app: &App,
    pending: &PendingAuthorization,
    code_challenge: String,
    session: &BrowserSession,
    scope: Scope,
    now: i64,
) -> Result<String, Error> {
    let code = random_token();
    app.store
        .put_authorization_code(&AuthorizationCode {
            hash: hash(&code),
            client_id: pending.client_id.clone(),
            redirect_uri: pending.redirect_uri.clone(),
            redirect_uri_given: pending.redirect_uri_given,
            scope,
            code_challenge,
            subject: session.user_id.clone(),
            auth_time: Some(session.auth_time),
            nonce: pending.nonce.clone(),
            sid: Some(session.sid.clone()),
            method: Some(session.method),
            expires_at: now + app.config.authorization_code_ttl.as_secs() as i64,
            used_at: None,
            family_id: None,
            access_jti: None,
            access_exp: None,
        })
        .await?;
    Ok(code)
}

/// The stored code for `code`, used or not, unless unknown or expired.
pub async fn find(app: &App, code: &str, now: i64) -> Result<Option<AuthorizationCode>, Error> {
    app.store.authorization_code(&hash(code), now).await
}

/// Marks `code` used, recording the `access` token and refresh-token family issued for it.
/// `LostRace` when a concurrent redemption won: that is a replay, and the tokens of both sides
/// are revoked before this returns. A write of ours whose answer was lost (the SDK's retry then
/// finds the code used, by us) is recognised by the family it recorded, and is no replay.
pub async fn redeem(
    app: &App,
    code: &AuthorizationCode,
    access: &AccessToken,
    family_id: &str,
    now: i64,
) -> Result<Written, Error> {
    let redemption = Redemption {
        family_id: family_id.to_string(),
        access_jti: access.claims.jti.clone(),
        access_exp: access.claims.exp,
    };
    let written = app.store.redeem_authorization_code(&code.hash, &redemption, now).await?;
    if written == Written::LostRace {
        let winner = app.store.authorization_code(&code.hash, now).await?;
        if winner.as_ref().is_some_and(|w| w.family_id.as_deref() == Some(family_id)) {
            return Ok(Written::Yes);
        }
        let mine = AuthorizationCode {
            family_id: Some(redemption.family_id),
            access_jti: Some(redemption.access_jti),
            access_exp: Some(redemption.access_exp),
            ..code.clone()
        };
        revoke_what_it_issued(app, &mine, now).await?;
        if let Some(winner) = winner {
            revoke_what_it_issued(app, &winner, now).await?;
        }
    }
    Ok(written)
}

/// Revokes the refresh-token family and the access token a redemption of `code` issued.
pub async fn revoke_what_it_issued(app: &App, code: &AuthorizationCode, now: i64) -> Result<(), Error> {
    tracing::warn!(client_id = %code.client_id, "authorization code replayed: revoking what it issued");
    if let Some(family_id) = &code.family_id {
        app.store.revoke_family(family_id, now).await?;
    }
    if let (Some(jti), Some(exp)) = (&code.access_jti, code.access_exp) {
        app.store.revoke_access_token(AccessTokenId { jti, exp }, now).await?;
    }
    Ok(())
}

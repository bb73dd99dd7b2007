//! `authorization_code` (RFC 6749 §4.1.3) with PKCE (RFC 7636), always required.
//!
//! The code is single use ([`crate::tokens::codes`]): its redemption records the refresh-token
//! family and the access token it issues; a replay finds them there and revokes both (RFC 6749
//! §4.1.2).

use super::{TokenResponse, user_tokens};
use crate::App;
use crate::domain::client::Client;
use crate::error::{Error, OAuthError};
use crate::metrics::{self, Metric};
use crate::oauth::pkce::CodeChallenge;
use crate::params::Params;
use crate::secret::random_id;
use crate::store::Written;
use crate::tokens::id::Authentication;
use crate::tokens::{codes, refresh};

pub const GRANT_TYPE: &str = crate::grant_type::AUTHORIZATION_CODE;
pub const PARAMETERS: &[&str] = &["code", "redirect_uri", "code_verifier"];

fn invalid(why: &'static str) -> Error {
    OAuthError::invalid_grant(why).into()
}

pub async fn grant(app: &App, client: &Client, params: &Params, now: i64) -> Result<TokenResponse, Error> {
    let code = params.require("code")?;
    let redirect_uri = params.get("redirect_uri");
    let verifier = params.require("code_verifier")?;
    let Some(stored) = codes::find(app, code, now).await? else {
        return Err(invalid("the authorization code is invalid or expired"));
    };
    // RFC 6749 §4.1.3: "ensure that the authorization code was issued to the authenticated
    // confidential client, or if the client is public, ensure that the code was issued to
    // client_id in the request" and that redirect_uri is "identical". Checked before the replay
    // rule: another client holding a leaked, used code must not be able to revoke the user's
    // tokens with it.
    if stored.client_id != client.id {
        return Err(invalid("the authorization code was issued to another client"));
    }
    if stored.used_at.is_some() {
        tracing::warn!(client_id = %client.id, "authorization code replayed: revoking what it issued");
        metrics::count(Metric::CodeReplay, &[]);
        codes::revoke_what_it_issued(app, &stored, now).await?;
        return Err(invalid("the authorization code was already used; the tokens it issued are revoked"));
    }
    // "REQUIRED, if the redirect_uri parameter was included in the authorization request".
    let redirect_ok = match redirect_uri {
        Some(uri) => uri == stored.redirect_uri,
        None => !stored.redirect_uri_given,
    };
    if !redirect_ok {
        return Err(invalid("redirect_uri differs from the authorization request"));
    }
    if !CodeChallenge::from_stored(stored.code_challenge.clone()).verify(verifier) {
        return Err(invalid("code_verifier does not match the code_challenge"));
    }
    let scope = stored.scope.intersection(&client.scope);
    // Everything is issued before the code is marked used, so the record a replay finds names
    // tokens that exist and can be revoked; if KMS or DynamoDB fail before that, the code is
    // still unspent and the client may retry. Tokens of a losing redemption are revoked.
    let authentication = Authentication {
        auth_time: stored.auth_time,
        nonce: stored.nonce.clone(),
        sid: stored.sid.clone(),
        method: stored.method,
    };
    let (access, id_token) = user_tokens(app, client, &stored.subject, &scope, &authentication, now).await?;
    let family_id = random_id();
    let refresh =
        refresh::issue_in_family(app, client, &stored.subject, &scope, &authentication, &family_id, now).await?;
    if codes::redeem(app, &stored, &access, &family_id, now).await? == Written::LostRace {
        return Err(invalid("the authorization code was already used; the tokens it issued are revoked"));
    }
    Ok(TokenResponse { id_token, ..TokenResponse::new(app, access, refresh.map(|r| r.token), &scope) })
}

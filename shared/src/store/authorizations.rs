//! The authorization endpoint's state: pending sign-in requests and authorization codes.
//!
//! Rules:
//! - Both are stored under the SHA-256 of their identifier, never the identifier.
//! - A sign-in request lives 10 minutes and is consumed once (a conditional update marks it;
//!   a consumed request reads as absent): a form posted twice cannot yield two codes.
//! - A code lives 60 seconds (`AUTHORIZATION_CODE_TTL`) and is redeemed once: the redemption
//!   records, in the same conditional write that marks it used, the refresh-token family and
//!   the access token's `jti` it issues, so that a replayed code can revoke them (RFC 6749 §4.1.2:
//!   "If an authorization code is used more than once, the authorization server MUST deny the
//!   request and SHOULD revoke (when possible) all tokens previously issued based on that
//!   authorization code").
//! - Reads check `expires_at` themselves: TTL deletes late.

use aws_sdk_dynamodb::types::AttributeValue;

use super::backend::{Store, Written, backend, conditional};
use super::item::{Item, ItemContext as _, Key, n, s};
use crate::error::Error;
use crate::scope::Scope;
use crate::secret::random_id;

/// A validated authorization request waiting for the user's sign-in and decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingAuthorization {
    /// Hash of the request id carried by the form.
    pub id_hash: String,
    /// Hash of the CSRF token bound to the browser by a cookie.
    pub csrf_hash: String,
    pub client_id: String,
    pub redirect_uri: String,
    /// Whether the request named `redirect_uri` (else it was the client's only one): RFC 6749
    /// §4.1.3 then requires it again at the token endpoint.
    pub redirect_uri_given: bool,
    /// `code` or `token`.
    pub response_type: String,
    pub scope: Scope,
    pub state: Option<String>,
    /// PKCE S256 challenge (always for `code`).
    pub code_challenge: Option<String>,
    /// OpenID Connect `nonce`, echoed in the ID token.
    pub nonce: Option<String>,
    pub expires_at: i64,
}

/// An issued authorization code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationCode {
    pub hash: String,
    pub client_id: String,
    pub redirect_uri: String,
    /// See [`PendingAuthorization::redirect_uri_given`].
    pub redirect_uri_given: bool,
    pub scope: Scope,
    pub code_challenge: String,
    pub subject: String,
    /// When the user signed in (OpenID Connect `auth_time`).
    pub auth_time: Option<i64>,
    /// The authorization request's `nonce`, for the ID token.
    pub nonce: Option<String>,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    /// What its redemption issued: revoked if the code is replayed.
    pub family_id: Option<String>,
    pub access_jti: Option<String>,
    pub access_exp: Option<i64>,
}

/// What a redemption issues, recorded on the code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redemption {
    pub family_id: String,
    pub access_jti: String,
    pub access_exp: i64,
}

fn request_key(hash: &str) -> String {
    format!("AUTHZ#{hash}")
}
fn code_key(hash: &str) -> String {
    format!("CODE#{hash}")
}

impl Store {
    pub async fn put_pending_authorization(&self, p: &PendingAuthorization) -> Result<(), Error> {
        let mut put = self
            .ddb
            .put_item()
            .table_name(&self.table)
            .item("pk", s(request_key(&p.id_hash)))
            .item("sk", s("AUTHZ"))
            .item("csrf_hash", s(&p.csrf_hash))
            .item("client_id", s(&p.client_id))
            .item("redirect_uri", s(&p.redirect_uri))
            .item("redirect_uri_given", AttributeValue::Bool(p.redirect_uri_given))
            .item("response_type", s(&p.response_type))
            .item("scope", s(p.scope.to_string()))
            .item("expires_at", n(p.expires_at));
        // No `attribute_not_exists` condition: the key is the hash of 256 random bits, so it
        // never meets another request, and without a condition the SDK's retry of a put whose
        // answer was lost succeeds instead of failing on its own first write.
        if let Some(state) = &p.state {
            put = put.item("state", s(state));
        }
        if let Some(challenge) = &p.code_challenge {
            put = put.item("code_challenge", s(challenge));
        }
        if let Some(nonce) = &p.nonce {
            put = put.item("nonce", s(nonce));
        }
        put.send().await.map_err(backend("PutItem"))?;
        Ok(())
    }

    /// The request stored under `id_hash`, unless absent, expired or consumed.
    pub async fn pending_authorization(&self, id_hash: &str, now: i64) -> Result<Option<PendingAuthorization>, Error> {
        let Some(item) = self.get(Key::new(request_key(id_hash), "AUTHZ"), now).await? else { return Ok(None) };
        if item.opt_string("consumed_by").is_some() {
            return Ok(None);
        }
        parse_pending(id_hash, &item).reading("authorization request").map(Some)
    }

    /// Consumes the request: marks it with a value of this attempt's own rather than deleting
    /// it, so that a retry of a write whose answer was lost (the SDK's) finds its own mark and
    /// is not taken for a second answer. `LostRace` when it was consumed by another attempt (or
    /// expired) meanwhile.
    pub async fn consume_pending_authorization(&self, id_hash: &str, now: i64) -> Result<Written, Error> {
        let mark = random_id();
        let result = self
            .ddb
            .update_item()
            .table_name(&self.table)
            .key("pk", s(request_key(id_hash)))
            .key("sk", s("AUTHZ"))
            .update_expression("SET consumed_by = :mark")
            .condition_expression("attribute_exists(pk) AND expires_at > :now AND attribute_not_exists(consumed_by)")
            .expression_attribute_values(":mark", s(&mark))
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        if conditional(result, "UpdateItem")?.is_some() {
            return Ok(Written::Yes);
        }
        let ours = self
            .get(Key::new(request_key(id_hash), "AUTHZ"), now)
            .await?
            .is_some_and(|item| item.opt_string("consumed_by").as_deref() == Some(mark.as_str()));
        Ok(if ours { Written::Yes } else { Written::LostRace })
    }

    pub async fn put_authorization_code(&self, code: &AuthorizationCode) -> Result<(), Error> {
        let mut put = self
            .ddb
            .put_item()
            .table_name(&self.table)
            .item("pk", s(code_key(&code.hash)))
            .item("sk", s("CODE"))
            .item("client_id", s(&code.client_id))
            .item("redirect_uri", s(&code.redirect_uri))
            .item("redirect_uri_given", AttributeValue::Bool(code.redirect_uri_given))
            .item("scope", s(code.scope.to_string()))
            .item("code_challenge", s(&code.code_challenge))
            .item("subject", s(&code.subject))
            .item("expires_at", n(code.expires_at));
        if let Some(at) = code.auth_time {
            put = put.item("auth_time", n(at));
        }
        if let Some(nonce) = &code.nonce {
            put = put.item("nonce", s(nonce));
        }
        // Unconditional, as the pending request above: a random key, and a retry must pass.
        put.send().await.map_err(backend("PutItem"))?;
        Ok(())
    }

    /// The code stored under `hash`, used or not, unless absent or expired.
    pub async fn authorization_code(&self, hash: &str, now: i64) -> Result<Option<AuthorizationCode>, Error> {
        let Some(item) = self.get(Key::new(code_key(hash), "CODE"), now).await? else { return Ok(None) };
        parse_code(hash, &item).reading("authorization code").map(Some)
    }

    /// Marks the code used, recording what it issues; `LostRace` when it was used (or expired)
    /// meanwhile.
    pub async fn redeem_authorization_code(&self, hash: &str, issued: &Redemption, now: i64) -> Result<Written, Error> {
        let result = self
            .ddb
            .update_item()
            .table_name(&self.table)
            .key("pk", s(code_key(hash)))
            .key("sk", s("CODE"))
            .update_expression("SET used_at = :now, family_id = :family, access_jti = :jti, access_exp = :exp")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(used_at) AND expires_at > :now")
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":family", s(&issued.family_id))
            .expression_attribute_values(":jti", s(&issued.access_jti))
            .expression_attribute_values(":exp", n(issued.access_exp))
            .send()
            .await;
        conditional(result, "UpdateItem").map(Written::from_conditional)
    }
}

fn parse_scope(item: &Item) -> anyhow::Result<Scope> {
    Scope::parse(&item.opt_string("scope").unwrap_or_default())
        .map_err(|_| anyhow::anyhow!("stored scope is malformed"))
}

fn parse_pending(id_hash: &str, item: &Item) -> anyhow::Result<PendingAuthorization> {
    Ok(PendingAuthorization {
        id_hash: id_hash.to_string(),
        csrf_hash: item.string("csrf_hash")?,
        client_id: item.string("client_id")?,
        redirect_uri: item.string("redirect_uri")?,
        redirect_uri_given: item.opt_bool("redirect_uri_given").unwrap_or(true),
        response_type: item.string("response_type")?,
        scope: parse_scope(item)?,
        state: item.opt_string("state"),
        code_challenge: item.opt_string("code_challenge"),
        nonce: item.opt_string("nonce"),
        expires_at: item.number("expires_at")?,
    })
}

fn parse_code(hash: &str, item: &Item) -> anyhow::Result<AuthorizationCode> {
    Ok(AuthorizationCode {
        hash: hash.to_string(),
        client_id: item.string("client_id")?,
        redirect_uri: item.string("redirect_uri")?,
        redirect_uri_given: item.opt_bool("redirect_uri_given").unwrap_or(true),
        scope: parse_scope(item)?,
        code_challenge: item.string("code_challenge")?,
        subject: item.string("subject")?,
        auth_time: item.opt_number("auth_time"),
        nonce: item.opt_string("nonce"),
        expires_at: item.number("expires_at")?,
        used_at: item.opt_number("used_at"),
        family_id: item.opt_string("family_id"),
        access_jti: item.opt_string("access_jti"),
        access_exp: item.opt_number("access_exp"),
    })
}

//! Browser sessions, `SESSION#<sha256(cookie)>` / `SESSION`, indexed under their user (`gsi1`).
//!
//! Rules:
//! - Stored only by the hash of the cookie's value (256 random bits), so a put needs no
//!   condition: the key never meets another session's.
//! - `expires_at` (the TTL) is the earlier of the idle and the absolute limit; a read past it,
//!   or past either limit, finds nothing.
//! - Using the session moves the idle limit and records the client, in one conditional update
//!   that never revives a session ended meanwhile.

use aws_sdk_dynamodb::types::AttributeValue;

use super::backend::{Store, conditional};
use super::item::{Item, ItemContext as _, Key, n, s, string_set};
use super::users;
use crate::domain::browser_session::{BrowserSession, SignInMethod};
use crate::error::Error;

const PREFIX: &str = "SESSION#";

/// The key of the session whose cookie value hashes to `id_hash`.
pub fn key(id_hash: &str) -> Key {
    Key::new(format!("{PREFIX}{id_hash}"), "SESSION")
}

impl Store {
    pub async fn put_browser_session(&self, session: &BrowserSession) -> Result<(), Error> {
        self.put_unconditional(to_item(session)).await
    }

    /// The session stored under `id_hash`, unless absent or past a limit.
    pub async fn browser_session(&self, id_hash: &str, now: i64) -> Result<Option<BrowserSession>, Error> {
        let Some(item) = self.get(key(id_hash), now).await? else { return Ok(None) };
        let session = from_item(&item).reading("browser session")?;
        Ok(session.is_live(now).then_some(session))
    }

    /// Moves the idle limit to `idle_until` and adds `client_id` to the session's clients;
    /// `false` when the session is gone or past a limit (ended meanwhile: it stays ended).
    pub async fn use_browser_session(
        &self,
        session: &BrowserSession,
        client_id: &str,
        idle_until: i64,
        now: i64,
    ) -> Result<bool, Error> {
        let update = self
            .update_item(key(&session.id_hash))
            .update_expression("SET idle_until = :idle, expires_at = :exp ADD clients :client")
            .condition_expression("attribute_exists(pk) AND expires_at > :now")
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":idle", n(idle_until))
            .expression_attribute_values(":exp", n(idle_until.min(session.absolute_until)))
            .expression_attribute_values(":client", AttributeValue::Ss(vec![client_id.to_string()]));
        Ok(conditional(update.send().await, "UpdateItem")?.is_some())
    }

    /// Deletes the session under `id_hash`. Idempotent.
    pub async fn end_browser_session(&self, id_hash: &str) -> Result<(), Error> {
        self.delete(key(id_hash)).await
    }

    /// The live sessions of `user_id`, oldest first. The index may miss a session started a
    /// moment ago.
    pub async fn user_browser_sessions(&self, user_id: &str, now: i64) -> Result<Vec<BrowserSession>, Error> {
        let mut sessions = Vec::new();
        for pk in self.indexed_under(users::key(user_id).pk, PREFIX).await? {
            if let Some(id_hash) = pk.strip_prefix(PREFIX)
                && let Some(session) = self.browser_session(id_hash, now).await?
            {
                sessions.push(session);
            }
        }
        Ok(sessions)
    }
}

fn to_item(session: &BrowserSession) -> Item {
    Item::keyed(key(&session.id_hash))
        .set("sid", s(&session.sid))
        .set("user_id", s(&session.user_id))
        .set("auth_time", n(session.auth_time))
        .set("method", s(session.method.amr()))
        .set_opt("clients", string_set(session.clients.iter().map(String::as_str)))
        .set("idle_until", n(session.idle_until))
        .set("absolute_until", n(session.absolute_until))
        .set("expires_at", n(session.expires_at()))
        .set("gsi1pk", s(users::key(&session.user_id).pk))
        .set("gsi1sk", s(format!("{PREFIX}{}#{}", session.auth_time, session.sid)))
}

fn from_item(item: &Item) -> anyhow::Result<BrowserSession> {
    let method = item.string("method")?;
    Ok(BrowserSession {
        id_hash: item.string_after("pk", PREFIX)?,
        sid: item.string("sid")?,
        user_id: item.string("user_id")?,
        auth_time: item.number("auth_time")?,
        method: SignInMethod::from_amr(&method).ok_or_else(|| anyhow::anyhow!("unknown sign-in method {method:?}"))?,
        clients: item.string_set("clients"),
        idle_until: item.number("idle_until")?,
        absolute_until: item.number("absolute_until")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(clients: Vec<String>) -> BrowserSession {
        BrowserSession {
            id_hash: "h1".into(),
            sid: "sid1".into(),
            user_id: "u1".into(),
            auth_time: 100,
            method: SignInMethod::Password,
            clients,
            idle_until: 200,
            absolute_until: 150,
        }
    }

    #[test]
    fn a_session_round_trips_with_and_without_clients() {
        for clients in [vec![], vec!["a".to_string(), "b".to_string()]] {
            let item = to_item(&session(clients.clone()));
            assert_eq!(from_item(&item).expect("read"), session(clients));
        }
    }

    #[test]
    fn the_item_expires_at_the_earlier_limit_and_is_indexed_under_its_user() {
        let item = to_item(&session(vec![]));
        assert_eq!(item.opt_number("expires_at"), Some(150));
        assert_eq!(item.opt_string("gsi1pk").as_deref(), Some("USER#u1"));
        assert_eq!(item.opt_string("pk").as_deref(), Some("SESSION#h1"));
    }
}

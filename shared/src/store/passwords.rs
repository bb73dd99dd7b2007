//! Password users: usernames, their mappings to users, and password hashes. The lockout of
//! usernames under guessing is [`super::password_failures`].
//!
//! Rules:
//! - A username is trimmed, 1–64 characters, printable (no control or invisible formatting
//!   characters, no whitespace but the plain space) and case-insensitive: it is stored and
//!   looked up lowercased ([`normalize_username`]). Every function here normalizes what it is
//!   given, so callers may pass a username as typed.
//! - A username maps to exactly one user: `USERNAME#<username>` / `MAP` holds its `user_id`,
//!   and is created with the user item in one transaction whose puts are both conditional, so
//!   two creations racing for one username create one user.
//! - The password's argon2id hash ([`crate::password`]) lives on the user item
//!   (`password_hash`), beside `username`; deleting a user deletes its mapping and its item in
//!   one transaction, then revokes its token families.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};

use super::backend::{Store, Written, conditional};
use super::item::{ItemContext as _, Key, n, s};
use crate::error::Error;
use crate::password::PasswordHash;
use crate::secret::random_id;

/// The longest username, in characters (after trimming and lowercasing).
pub const MAX_USERNAME_CHARS: usize = 64;

/// The stored form of a username, or `None` when it is not an acceptable one.
pub fn normalize_username(username: &str) -> Option<String> {
    let name = username.trim().to_lowercase();
    let length = name.chars().count();
    let printable = name.chars().all(|c| !c.is_control() && !is_invisible(c) && (c == ' ' || !c.is_whitespace()));
    ((1..=MAX_USERNAME_CHARS).contains(&length) && printable).then_some(name)
}

/// Formatting characters that render as nothing and would make look-alike usernames:
/// zero-width spaces and joiners, direction marks and overrides, word joiners, the BOM.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{00AD}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

/// Why a password user could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    #[error("the username is taken")]
    Taken,
    #[error("a username must be 1 to 64 printable characters")]
    InvalidUsername,
    #[error(transparent)]
    Store(#[from] Error),
}

fn username_key(name: &str) -> String {
    format!("USERNAME#{name}")
}
fn user_key(id: &str) -> String {
    format!("USER#{id}") // as in `users`
}

impl Store {
    /// Creates a password user: user item + username mapping in one transaction (conditional:
    /// the username must be free). Returns the new user id.
    pub async fn create_password_user(
        &self,
        username: &str,
        hash: &PasswordHash,
        now: i64,
    ) -> Result<String, CreateUserError> {
        let name = normalize_username(username).ok_or(CreateUserError::InvalidUsername)?;
        let user_id = random_id();
        let user = Put::builder()
            .table_name(&self.table)
            .item("pk", s(user_key(&user_id)))
            .item("sk", s("USER"))
            .item("user_id", s(&user_id))
            .item("username", s(&name))
            .item("password_hash", s(hash.as_str()))
            // The shape of a WeChat user's item, so linking an openid later finds the map.
            .item("openids", AttributeValue::M(HashMap::new()))
            .item("created_at", n(now))
            .condition_expression("attribute_not_exists(pk)");
        let mapping = Put::builder()
            .table_name(&self.table)
            .item("pk", s(username_key(&name)))
            .item("sk", s("MAP"))
            .item("user_id", s(&user_id))
            .item("username", s(&name))
            .item("created_at", n(now))
            .condition_expression("attribute_not_exists(pk)");
        let mut items = Vec::with_capacity(2);
        for put in [user, mapping] {
            let put = put.build().map_err(Error::from)?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        match self.transact(items).await? {
            Written::Yes => Ok(user_id),
            Written::LostRace => Err(CreateUserError::Taken),
        }
    }

    /// The user id and password hash of `username`, `None` when there is no such password user.
    pub async fn password_user(&self, username: &str) -> Result<Option<(String, PasswordHash)>, Error> {
        let Some(name) = normalize_username(username) else { return Ok(None) };
        let Some(user_id) = self.user_id_of(&name).await? else { return Ok(None) };
        let Some(user) = self.get_permanent(Key::new(user_key(&user_id), "USER")).await? else {
            tracing::warn!(user_id, "a username maps to a missing user");
            return Ok(None);
        };
        Ok(user.opt_string("password_hash").map(|hash| (user_id, PasswordHash::from_stored(hash))))
    }

    /// Replaces the password of `username`; `false` if there is no such user.
    pub async fn set_password(&self, username: &str, hash: &PasswordHash) -> Result<bool, Error> {
        let Some(name) = normalize_username(username) else { return Ok(false) };
        let Some(user_id) = self.user_id_of(&name).await? else { return Ok(false) };
        let result = self
            .ddb
            .update_item()
            .table_name(&self.table)
            .key("pk", s(user_key(&user_id)))
            .key("sk", s("USER"))
            .update_expression("SET password_hash = :hash")
            // Still this username's user: not deleted (and its id reused) meanwhile.
            .condition_expression("attribute_exists(pk) AND username = :name")
            .expression_attribute_values(":hash", s(hash.as_str()))
            .expression_attribute_values(":name", s(&name))
            .send()
            .await;
        conditional(result, "UpdateItem").map(|w| w.is_some())
    }

    /// Deletes the username mapping and the user item in one transaction, then revokes the
    /// user's token families; `false` if there is no such user.
    pub async fn delete_password_user(&self, username: &str, now: i64) -> Result<bool, Error> {
        let Some(name) = normalize_username(username) else { return Ok(false) };
        // A lost race (the username deleted, or deleted and created again, meanwhile) is settled
        // by reading the mapping again.
        for _ in 0..3 {
            let Some(user_id) = self.user_id_of(&name).await? else { return Ok(false) };
            let mapping = Delete::builder()
                .table_name(&self.table)
                .key("pk", s(username_key(&name)))
                .key("sk", s("MAP"))
                .condition_expression("user_id = :id")
                .expression_attribute_values(":id", s(&user_id));
            // Unconditional: a mapping left without its user is still deleted.
            let user = Delete::builder().table_name(&self.table).key("pk", s(user_key(&user_id))).key("sk", s("USER"));
            let items = vec![
                TransactWriteItem::builder().delete(mapping.build()?).build(),
                TransactWriteItem::builder().delete(user.build()?).build(),
            ];
            if self.transact(items).await? == Written::Yes {
                self.revoke_user_families(&user_id, now).await?;
                return Ok(true);
            }
        }
        Err(Error::Unavailable(anyhow::anyhow!("user deletion kept losing races")))
    }

    async fn user_id_of(&self, name: &str) -> Result<Option<String>, Error> {
        match self.get_permanent(Key::new(username_key(name), "MAP")).await? {
            Some(item) => item.string("user_id").reading("username mapping").map(Some),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_trimmed_and_lowercased() {
        assert_eq!(normalize_username("  Alice ").as_deref(), Some("alice"));
        assert_eq!(normalize_username("ÄBC").as_deref(), Some("äbc"));
        assert_eq!(normalize_username("first last").as_deref(), Some("first last"));
        assert_eq!(normalize_username("a#b@c.d").as_deref(), Some("a#b@c.d"));
        let name = normalize_username("Bob").expect("valid");
        assert_eq!(normalize_username(&name), Some(name), "normalizing twice changes nothing");
    }

    #[test]
    fn usernames_are_one_to_64_characters() {
        assert_eq!(normalize_username(""), None);
        assert_eq!(normalize_username("   "), None);
        assert!(normalize_username(&"a".repeat(64)).is_some());
        assert_eq!(normalize_username(&"a".repeat(65)), None);
        assert!(normalize_username(&"用".repeat(64)).is_some(), "characters, not bytes");
    }

    #[test]
    fn usernames_are_printable() {
        for bad in ["a\tb", "a\nb", "a\u{0}b", "a\u{7f}b", "a\u{200B}b", "a\u{202E}b", "a\u{FEFF}b", "a\u{3000}b"] {
            assert_eq!(normalize_username(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn keys_use_the_lowercased_username() {
        let name = normalize_username("Alice").expect("valid");
        assert_eq!(username_key(&name), "USERNAME#alice");
    }
}

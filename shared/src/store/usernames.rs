//! Password users' usernames: `USERNAME#<username>` / `MAP`, the mapping from a username to its
//! user; and the password hash on that user's item. The lockout of usernames under guessing is
//! [`super::password_failures`]; what a username may be is [`crate::domain::username`].
//!
//! Rules:
//! - Every function here normalizes the username it is given
//!   ([`crate::domain::username::normalize_username`]), so callers may pass it as typed.
//! - A username maps to exactly one user: its mapping holds the `user_id`, and is created with
//!   the user item in one transaction whose puts are both conditional, so two creations racing
//!   for one username create one user.
//! - The password's argon2id hash ([`crate::password`]) lives on the user item
//!   (`password_hash`, [`super::users`]), beside `username`; deleting a user deletes its
//!   mapping and its item in one transaction, then revokes its token families.

use aws_sdk_dynamodb::types::{Delete, TransactWriteItem};

use super::backend::{Store, Written, conditional};
use super::item::{Key, s};
use super::users::{self, MAPPING_SK, Mapping, mapping_to_item};
use crate::domain::user::User;
use crate::domain::username::normalize_username;
use crate::error::Error;
use crate::password::PasswordHash;
use crate::secret::random_id;

/// The key of the mapping from `username` (normalized: lowercased) to its user.
pub fn key(username: &str) -> Key {
    Key::new(format!("USERNAME#{username}"), MAPPING_SK)
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
        let user = User {
            id: random_id(),
            openids: Default::default(),
            unionid: None,
            username: Some(name.clone()),
            phone: None,
            nickname: None,
            picture: None,
            created_at: now,
        };
        let mapping =
            Mapping { user_id: user.id.clone(), unionid: None, username: Some(name.clone()), created_at: now };
        let mut items = Vec::with_capacity(2);
        for item in [users::to_item(&user, Some(hash)), mapping_to_item(key(&name), &mapping)] {
            let put = self.put_new(item).build().map_err(Error::from)?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        match self.transact(items).await? {
            Written::Yes => Ok(user.id),
            Written::LostRace => Err(CreateUserError::Taken),
        }
    }

    /// The user id and password hash of `username`, `None` when there is no such password user.
    pub async fn password_user(&self, username: &str) -> Result<Option<(String, PasswordHash)>, Error> {
        let Some(name) = normalize_username(username) else { return Ok(None) };
        let Some(user_id) = self.user_id_of(&name).await? else { return Ok(None) };
        let Some(user) = self.get_permanent(users::key(&user_id)).await? else {
            tracing::warn!(user_id, "a username maps to a missing user");
            return Ok(None);
        };
        Ok(users::password_hash_of(&user).map(|hash| (user_id, hash)))
    }

    /// Replaces the password of `username`; `false` if there is no such user.
    pub async fn set_password(&self, username: &str, hash: &PasswordHash) -> Result<bool, Error> {
        let Some(name) = normalize_username(username) else { return Ok(false) };
        let Some(user_id) = self.user_id_of(&name).await? else { return Ok(false) };
        let result = self
            .update_item(users::key(&user_id))
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
    /// user's token families; the user's id, or `None` if there is no such user. Its browser
    /// sessions are the caller's to end (with the relying parties told:
    /// `crate::oauth::logout::end_user_sessions`).
    pub async fn delete_password_user(&self, username: &str, now: i64) -> Result<Option<String>, Error> {
        let Some(name) = normalize_username(username) else { return Ok(None) };
        // A lost race (the username deleted, or deleted and created again, meanwhile) is settled
        // by reading the mapping again.
        for _ in 0..3 {
            let Some(user_id) = self.user_id_of(&name).await? else { return Ok(None) };
            let mapping = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(key(&name).attributes()))
                .condition_expression("user_id = :id")
                .expression_attribute_values(":id", s(&user_id));
            // Unconditional: a mapping left without its user is still deleted.
            let user = Delete::builder().table_name(&self.table).set_key(Some(users::key(&user_id).attributes()));
            let items = vec![
                TransactWriteItem::builder().delete(mapping.build()?).build(),
                TransactWriteItem::builder().delete(user.build()?).build(),
            ];
            if self.transact(items).await? == Written::Yes {
                self.revoke_user_families(&user_id, now).await?;
                return Ok(Some(user_id));
            }
        }
        Err(Error::Unavailable(anyhow::anyhow!("user deletion kept losing races")))
    }

    async fn user_id_of(&self, name: &str) -> Result<Option<String>, Error> {
        Ok(self.mapping_of(key(name)).await?.map(|mapping| mapping.user_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::users::mapping_from_item;

    #[test]
    fn the_key_uses_the_lowercased_username() {
        let name = normalize_username("Alice").expect("valid");
        assert_eq!(key(&name), Key::new("USERNAME#alice", "MAP"));
    }

    #[test]
    fn a_username_mapping_round_trips() {
        let mapping = Mapping { user_id: "u1".into(), unionid: None, username: Some("alice".into()), created_at: 9 };
        let item = mapping_to_item(key("alice"), &mapping);
        let mut names: Vec<&str> = item.attributes().keys().map(String::as_str).collect();
        names.sort_unstable();
        assert_eq!(names, ["created_at", "pk", "sk", "user_id", "username"]);
        assert_eq!(mapping_from_item(&item).expect("reads"), mapping);
    }
}

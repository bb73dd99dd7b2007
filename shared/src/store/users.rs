//! Users and the WeChat identities that lead to them.
//!
//! Rules: one openid (per appid) maps to exactly one user, and one unionid to exactly one user.
//! A first login creates the user and its mappings in one transaction whose puts are all
//! conditional, so two first logins racing for the same openid create one user: the loser's
//! transaction is cancelled and it reads the winner's mapping. A unionid already known (the same
//! person in another mini program of the same WeChat open platform account) links the new openid
//! to that user instead of creating one.

use aws_sdk_dynamodb::types::builders::{PutBuilder, UpdateBuilder};
use aws_sdk_dynamodb::types::{Put, TransactWriteItem, Update};

use super::backend::{Store, Written, backend};
use super::item::{Item, ItemContext as _, Key, n, s, string_map};
use crate::domain::user::{Openid, Phone, User, WechatIdentity};
use crate::error::Error;
use crate::metrics::{self, Metric};
use crate::password::PasswordHash;
use crate::secret::random_id;

/// The key of user `id`'s item.
pub fn key(id: &str) -> Key {
    Key::new(format!("USER#{id}"), "USER")
}

/// The key of the mapping from an openid (in its mini program) to its user.
pub fn openid_key(id: Openid) -> Key {
    Key::new(format!("OPENID#{}#{}", id.appid, id.openid), MAPPING_SK)
}

/// The key of the mapping from a unionid to its user.
pub fn unionid_key(unionid: &str) -> Key {
    Key::new(format!("UNIONID#{unionid}"), MAPPING_SK)
}

/// The sort key of every mapping to a user (openid, unionid, username).
pub(crate) const MAPPING_SK: &str = "MAP";

/// An item leading to a user: an openid's, a unionid's or a username's (`store::usernames`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mapping {
    pub user_id: String,
    /// An openid's mapping: the unionid WeChat gave with it (or recorded later).
    pub unionid: Option<String>,
    /// A username's mapping: the username.
    pub username: Option<String>,
    pub created_at: i64,
}

pub(crate) fn mapping_to_item(key: Key, mapping: &Mapping) -> Item {
    Item::keyed(key)
        .set("user_id", s(&mapping.user_id))
        .set("created_at", n(mapping.created_at))
        .set_opt("unionid", mapping.unionid.as_ref().map(s))
        .set_opt("username", mapping.username.as_ref().map(s))
}

pub(crate) fn mapping_from_item(item: &Item) -> anyhow::Result<Mapping> {
    Ok(Mapping {
        user_id: item.string("user_id")?,
        unionid: item.opt_string("unionid"),
        username: item.opt_string("username"),
        created_at: item.opt_number("created_at").unwrap_or_default(),
    })
}

/// A user's item; a password user's carries its argon2id hash (`password_hash`) beside
/// `username`. Every user item has `openids`, so linking an openid later finds the map.
pub(crate) fn to_item(user: &User, password_hash: Option<&PasswordHash>) -> Item {
    let phone = user.phone.as_ref();
    Item::keyed(key(&user.id))
        .set("user_id", s(&user.id))
        .set("openids", string_map(&user.openids))
        .set("created_at", n(user.created_at))
        .set_opt("unionid", user.unionid.as_ref().map(s))
        .set_opt("username", user.username.as_ref().map(s))
        .set_opt("password_hash", password_hash.map(|hash| s(hash.as_str())))
        .set_opt("phone_number", phone.map(|p| s(&p.phone_number)))
        .set_opt("pure_phone_number", phone.map(|p| s(&p.pure_phone_number)))
        .set_opt("country_code", phone.map(|p| s(&p.country_code)))
        .set_opt("nickname", user.nickname.as_ref().map(s))
        .set_opt("picture", user.picture.as_ref().map(s))
}

pub(crate) fn from_item(item: &Item) -> anyhow::Result<User> {
    Ok(User {
        id: item.string("user_id")?,
        openids: item.string_map("openids"),
        unionid: item.opt_string("unionid"),
        username: item.opt_string("username"),
        phone: item.opt_string("phone_number").map(|phone_number| Phone {
            phone_number,
            pure_phone_number: item.opt_string("pure_phone_number").unwrap_or_default(),
            country_code: item.opt_string("country_code").unwrap_or_default(),
        }),
        nickname: item.opt_string("nickname"),
        picture: item.opt_string("picture"),
        created_at: item.opt_number("created_at").unwrap_or_default(),
    })
}

/// The stored password hash of a user's item, if it is a password user's.
pub(crate) fn password_hash_of(item: &Item) -> Option<PasswordHash> {
    item.opt_string("password_hash").map(PasswordHash::from_stored)
}

impl Store {
    pub async fn user(&self, id: &str) -> Result<Option<User>, Error> {
        let Some(item) = self.get_permanent(key(id)).await? else {
            return Ok(None);
        };
        from_item(&item).reading("user").map(Some)
    }

    /// Records the user's verified phone number (replacing an earlier one).
    pub async fn set_user_phone(&self, user_id: &str, phone: &Phone, now: i64) -> Result<(), Error> {
        self.update_item(key(user_id))
            .update_expression(
                "SET phone_number = :p, pure_phone_number = :pp, country_code = :cc, phone_verified_at = :now",
            )
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":p", s(&phone.phone_number))
            .expression_attribute_values(":pp", s(&phone.pure_phone_number))
            .expression_attribute_values(":cc", s(&phone.country_code))
            .expression_attribute_values(":now", n(now))
            .send()
            .await
            .map_err(backend("UpdateItem"))?;
        Ok(())
    }

    /// Records the profile WeChat's web sign-in gave (replacing an earlier one).
    pub async fn set_user_profile(
        &self,
        user_id: &str,
        nickname: Option<&str>,
        picture: Option<&str>,
    ) -> Result<(), Error> {
        let mut sets = Vec::new();
        let mut update = self.update_item(key(user_id)).condition_expression("attribute_exists(pk)");
        if let Some(nickname) = nickname {
            sets.push("nickname = :nickname");
            update = update.expression_attribute_values(":nickname", s(nickname));
        }
        if let Some(picture) = picture {
            sets.push("picture = :picture");
            update = update.expression_attribute_values(":picture", s(picture));
        }
        if sets.is_empty() {
            return Ok(());
        }
        update.update_expression(format!("SET {}", sets.join(", "))).send().await.map_err(backend("UpdateItem"))?;
        Ok(())
    }

    /// The user behind a WeChat identity, created on first sight. Returns the user id.
    pub async fn wechat_user(&self, identity: &WechatIdentity, now: i64) -> Result<String, Error> {
        // A lost race is settled by reading again; three rounds cover every interleaving of a
        // concurrent openid creation and a concurrent unionid creation.
        for _ in 0..3 {
            if let Some(mapping) = self.mapping_of(openid_key(identity.openid())).await? {
                if let (Some(unionid), None) = (&identity.unionid, mapping.unionid) {
                    self.record_unionid(&mapping.user_id, identity, unionid, now).await?;
                }
                return Ok(mapping.user_id);
            }
            let by_union = match &identity.unionid {
                Some(unionid) => self.mapping_of(unionid_key(unionid)).await?.map(|mapping| mapping.user_id),
                None => None,
            };
            let attempt = match by_union {
                Some(user_id) => self.link_openid(&user_id, identity, now).await.map(|()| user_id),
                None => self.create_wechat_user(identity, now).await,
            };
            match attempt {
                Ok(user_id) => return Ok(user_id),
                Err(Race::Lost) => continue,
                Err(Race::Fault(e)) => return Err(e),
            }
        }
        Err(Error::Unavailable(anyhow::anyhow!("user creation kept losing races")))
    }

    /// The mapping stored under `key`: the user an identity leads to.
    pub(crate) async fn mapping_of(&self, key: Key) -> Result<Option<Mapping>, Error> {
        match self.get_permanent(key).await? {
            Some(item) => mapping_from_item(&item).reading("mapping to a user").map(Some),
            None => Ok(None),
        }
    }

    /// A user first seen without a unionid (the mini program was bound to a WeChat open
    /// platform account later) gets it now, so the same person in another mini program finds
    /// this user. If the unionid already leads to another user, the two stay apart (merging
    /// accounts is a decision for a person), and the mapping is marked so this is tried once.
    async fn record_unionid(
        &self,
        user_id: &str,
        identity: &WechatIdentity,
        unionid: &str,
        now: i64,
    ) -> Result<(), Error> {
        // Only an existing mapping: an update would otherwise create one without its user_id.
        let mark_mapping = self
            .transact_update(openid_key(identity.openid()))
            .update_expression("SET unionid = :u")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":u", s(unionid));
        let set_on_user = self
            .transact_update(key(user_id))
            .update_expression("SET unionid = :u")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(unionid)")
            .expression_attribute_values(":u", s(unionid));
        let build = |u: UpdateBuilder| -> Result<TransactWriteItem, Error> {
            Ok(TransactWriteItem::builder().update(u.build()?).build())
        };
        let put_mapping =
            self.put_new(mapping_to_item(unionid_key(unionid), &new_mapping(user_id, None, now))).build()?;
        let items = vec![
            TransactWriteItem::builder().put(put_mapping).build(),
            build(set_on_user)?,
            build(mark_mapping.clone())?,
        ];
        if self.transact(items).await? == Written::LostRace {
            tracing::warn!(user_id, "a unionid already belongs to another user; the users stay apart");
            metrics::count(Metric::UnionidConflicts, &[]);
            self.transact(vec![build(mark_mapping)?]).await?;
        }
        Ok(())
    }

    fn transact_update(&self, key: Key) -> UpdateBuilder {
        Update::builder().table_name(&self.table).set_key(Some(key.attributes()))
    }

    async fn create_wechat_user(&self, identity: &WechatIdentity, now: i64) -> Result<String, Race> {
        let user = User {
            id: random_id(),
            openids: [(identity.appid.clone(), identity.openid.clone())].into(),
            unionid: identity.unionid.clone(),
            username: None,
            phone: None,
            nickname: None,
            picture: None,
            created_at: now,
        };
        let mut items =
            vec![put(self.put_new(to_item(&user, None)))?, put(self.openid_mapping(identity, &user.id, now))?];
        if let Some(unionid) = &identity.unionid {
            let mapping = mapping_to_item(unionid_key(unionid), &new_mapping(&user.id, None, now));
            items.push(put(self.put_new(mapping))?);
        }
        self.transact_race(items).await.map(|()| user.id)
    }

    async fn link_openid(&self, user_id: &str, identity: &WechatIdentity, now: i64) -> Result<(), Race> {
        let add_openid = self
            .transact_update(key(user_id))
            .update_expression("SET openids.#appid = :openid")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#appid", &identity.appid)
            .expression_attribute_values(":openid", s(&identity.openid))
            .build()
            .map_err(|e| Race::Fault(e.into()))?;
        self.transact_race(vec![
            put(self.openid_mapping(identity, user_id, now))?,
            TransactWriteItem::builder().update(add_openid).build(),
        ])
        .await
    }

    /// A put of `item` that only creates: it fails when an item with its key exists.
    pub(crate) fn put_new(&self, item: Item) -> PutBuilder {
        Put::builder()
            .table_name(&self.table)
            .set_item(Some(item.into_attributes()))
            .condition_expression("attribute_not_exists(pk)")
    }

    /// The openid's mapping, recording the unionid WeChat gave with it.
    fn openid_mapping(&self, identity: &WechatIdentity, user_id: &str, now: i64) -> PutBuilder {
        let mapping = new_mapping(user_id, identity.unionid.clone(), now);
        self.put_new(mapping_to_item(openid_key(identity.openid()), &mapping))
    }

    async fn transact_race(&self, items: Vec<TransactWriteItem>) -> Result<(), Race> {
        match self.transact(items).await {
            Ok(Written::Yes) => Ok(()),
            Ok(Written::LostRace) => Err(Race::Lost),
            Err(e) => Err(Race::Fault(e)),
        }
    }
}

fn new_mapping(user_id: &str, unionid: Option<String>, now: i64) -> Mapping {
    Mapping { user_id: user_id.to_string(), unionid, username: None, created_at: now }
}

fn put(builder: PutBuilder) -> Result<TransactWriteItem, Race> {
    let put = builder.build().map_err(|e| Race::Fault(e.into()))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// A conditional write either lost to a concurrent writer or failed.
enum Race {
    Lost,
    Fault(Error),
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::types::AttributeValue;

    use super::*;

    #[test]
    fn a_user_round_trips_with_its_attribute_types() {
        let user = User {
            id: "u1".into(),
            openids: [("wx1".to_string(), "o1".to_string())].into(),
            unionid: Some("un1".into()),
            username: None,
            phone: Some(Phone {
                phone_number: "+8613800000000".into(),
                pure_phone_number: "13800000000".into(),
                country_code: "86".into(),
            }),
            nickname: None,
            picture: None,
            created_at: 42,
        };
        let item = to_item(&user, None);
        assert_eq!(from_item(&item).expect("reads"), user);
        let a = item.attributes();
        assert_eq!((&a["pk"], &a["sk"]), (&s("USER#u1"), &s("USER")));
        assert!(matches!(a["openids"], AttributeValue::M(_)));
        assert_eq!(a["created_at"], AttributeValue::N("42".into()));
        assert!(!a.contains_key("password_hash") && !a.contains_key("username"));
    }

    #[test]
    fn a_password_user_keeps_its_hash_beside_the_username() {
        let user = User {
            id: "u2".into(),
            openids: Default::default(),
            unionid: None,
            username: Some("ann".into()),
            phone: None,
            nickname: None,
            picture: None,
            created_at: 1,
        };
        let hash = PasswordHash::from_stored("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into());
        let item = to_item(&user, Some(&hash));
        assert_eq!(password_hash_of(&item).as_ref().map(PasswordHash::as_str), Some(hash.as_str()));
        assert_eq!(item.attributes()["openids"], AttributeValue::M(Default::default()));
        assert_eq!(from_item(&item).expect("reads"), user);
    }

    #[test]
    fn mappings_round_trip_and_old_ones_without_created_at_read() {
        let mapping = new_mapping("u1", Some("un1".into()), 7);
        let item = mapping_to_item(openid_key(Openid { appid: "wx1", openid: "o1" }), &mapping);
        assert_eq!(item.attributes()["pk"], s("OPENID#wx1#o1"));
        assert_eq!(item.attributes()["sk"], s("MAP"));
        assert_eq!(mapping_from_item(&item).expect("reads"), mapping);
        let old = Item::keyed(unionid_key("un1")).set("user_id", s("u1"));
        assert_eq!(mapping_from_item(&old).expect("reads").user_id, "u1");
    }

    #[test]
    fn a_user_item_without_openids_or_created_at_still_reads() {
        let old = Item::keyed(key("u3")).set("user_id", s("u3"));
        let user = from_item(&old).expect("an older item reads");
        assert!(user.openids.is_empty() && user.phone.is_none());
        assert_eq!(user.created_at, 0);
    }
}

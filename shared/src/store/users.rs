//! Users and the WeChat identities that lead to them.
//!
//! Rules: one openid (per appid) maps to exactly one user, and one unionid to exactly one user.
//! A first login creates the user and its mappings in one transaction whose puts are all
//! conditional, so two first logins racing for the same openid create one user: the loser's
//! transaction is cancelled and it reads the winner's mapping. A unionid already known (the same
//! person in another mini program of the same WeChat open platform account) links the new openid
//! to that user instead of creating one.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};

use super::backend::{Store, Written, backend};
use super::item::{ItemContext as _, Key, n, s};
use crate::error::Error;
use crate::secret::random_id;

/// A WeChat identity as `jscode2session` returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WechatIdentity {
    pub appid: String,
    pub openid: String,
    pub unionid: Option<String>,
}

/// A user record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    /// appid -> openid
    pub openids: HashMap<String, String>,
    pub unionid: Option<String>,
    /// Password users only.
    pub username: Option<String>,
    pub phone: Option<Phone>,
    pub created_at: i64,
}

/// A phone number as WeChat verified it.
#[derive(Clone, PartialEq, Eq)]
pub struct Phone {
    /// With the country code for numbers outside mainland China (WeChat's `phoneNumber`).
    pub phone_number: String,
    pub pure_phone_number: String,
    pub country_code: String,
}

impl std::fmt::Debug for Phone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Phone(..)") // personal data: never in a log line
    }
}

fn user_key(id: &str) -> String {
    format!("USER#{id}")
}
fn openid_key(appid: &str, openid: &str) -> String {
    format!("OPENID#{appid}#{openid}")
}
fn unionid_key(unionid: &str) -> String {
    format!("UNIONID#{unionid}")
}

impl Store {
    pub async fn user(&self, id: &str) -> Result<Option<User>, Error> {
        let Some(item) = self.get_permanent(Key::new(user_key(id), "USER")).await? else {
            return Ok(None);
        };
        Ok(Some(User {
            id: item.string("user_id").reading("user")?,
            openids: item.string_map("openids"),
            unionid: item.opt_string("unionid"),
            username: item.opt_string("username"),
            phone: item.opt_string("phone_number").map(|phone_number| Phone {
                phone_number,
                pure_phone_number: item.opt_string("pure_phone_number").unwrap_or_default(),
                country_code: item.opt_string("country_code").unwrap_or_default(),
            }),
            created_at: item.opt_number("created_at").unwrap_or_default(),
        }))
    }

    /// Records the user's verified phone number (replacing an earlier one).
    pub async fn set_user_phone(&self, user_id: &str, phone: &Phone, now: i64) -> Result<(), Error> {
        self.ddb
            .update_item()
            .table_name(&self.table)
            .key("pk", s(user_key(user_id)))
            .key("sk", s("USER"))
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

    /// The user behind a WeChat identity, created on first sight. Returns the user id.
    pub async fn wechat_user(&self, identity: &WechatIdentity, now: i64) -> Result<String, Error> {
        // A lost race is settled by reading again; three rounds cover every interleaving of a
        // concurrent openid creation and a concurrent unionid creation.
        for _ in 0..3 {
            if let Some((user_id, known_unionid)) =
                self.mapping_of(openid_key(&identity.appid, &identity.openid)).await?
            {
                if let (Some(unionid), None) = (&identity.unionid, known_unionid) {
                    self.record_unionid(&user_id, identity, unionid, now).await?;
                }
                return Ok(user_id);
            }
            let by_union = match &identity.unionid {
                Some(unionid) => self.mapping_of(unionid_key(unionid)).await?.map(|(user_id, _)| user_id),
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

    /// The user an identity maps to, and the unionid recorded with the mapping.
    async fn mapping_of(&self, pk: String) -> Result<Option<(String, Option<String>)>, Error> {
        match self.get_permanent(Key::new(pk, "MAP")).await? {
            Some(item) => Ok(Some((item.string("user_id").reading("identity mapping")?, item.opt_string("unionid")))),
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
        let openid_pk = openid_key(&identity.appid, &identity.openid);
        // Only an existing mapping: an update would otherwise create one without its user_id.
        let mark_mapping = self
            .update(openid_pk.clone(), "MAP")
            .update_expression("SET unionid = :u")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":u", s(unionid));
        let set_on_user = self
            .update(user_key(user_id), "USER")
            .update_expression("SET unionid = :u")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(unionid)")
            .expression_attribute_values(":u", s(unionid));
        let build = |u: aws_sdk_dynamodb::types::builders::UpdateBuilder| -> Result<TransactWriteItem, Error> {
            Ok(TransactWriteItem::builder().update(u.build()?).build())
        };
        let put_mapping = self.mapping(unionid_key(unionid), user_id, now).build()?;
        let items = vec![
            TransactWriteItem::builder().put(put_mapping).build(),
            build(set_on_user)?,
            build(mark_mapping.clone())?,
        ];
        if self.transact(items).await? == Written::LostRace {
            tracing::warn!(user_id, "a unionid already belongs to another user; the users stay apart");
            self.transact(vec![build(mark_mapping)?]).await?;
        }
        Ok(())
    }

    fn update(&self, pk: String, sk: &str) -> aws_sdk_dynamodb::types::builders::UpdateBuilder {
        Update::builder().table_name(&self.table).key("pk", s(pk)).key("sk", s(sk))
    }

    async fn create_wechat_user(&self, identity: &WechatIdentity, now: i64) -> Result<String, Race> {
        let user_id = random_id();
        let mut user = self
            .put_new(user_key(&user_id), "USER")
            .item("user_id", s(&user_id))
            .item("created_at", n(now))
            .item("openids", AttributeValue::M(HashMap::from([(identity.appid.clone(), s(&identity.openid))])));
        if let Some(unionid) = &identity.unionid {
            user = user.item("unionid", s(unionid));
        }
        let mut items = vec![put(user)?, put(self.openid_mapping(identity, &user_id, now))?];
        if let Some(unionid) = &identity.unionid {
            items.push(put(self.mapping(unionid_key(unionid), &user_id, now))?);
        }
        self.transact_race(items).await.map(|()| user_id)
    }

    async fn link_openid(&self, user_id: &str, identity: &WechatIdentity, now: i64) -> Result<(), Race> {
        let add_openid = Update::builder()
            .table_name(&self.table)
            .key("pk", s(user_key(user_id)))
            .key("sk", s("USER"))
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

    fn put_new(&self, pk: String, sk: &str) -> aws_sdk_dynamodb::types::builders::PutBuilder {
        Put::builder()
            .table_name(&self.table)
            .item("pk", s(pk))
            .item("sk", s(sk))
            .condition_expression("attribute_not_exists(pk)")
    }

    fn mapping(&self, pk: String, user_id: &str, now: i64) -> aws_sdk_dynamodb::types::builders::PutBuilder {
        self.put_new(pk, "MAP").item("user_id", s(user_id)).item("created_at", n(now))
    }

    /// The openid's mapping, recording the unionid WeChat gave with it.
    fn openid_mapping(
        &self,
        identity: &WechatIdentity,
        user_id: &str,
        now: i64,
    ) -> aws_sdk_dynamodb::types::builders::PutBuilder {
        let mapping = self.mapping(openid_key(&identity.appid, &identity.openid), user_id, now);
        match &identity.unionid {
            Some(unionid) => mapping.item("unionid", s(unionid)),
            None => mapping,
        }
    }

    async fn transact_race(&self, items: Vec<TransactWriteItem>) -> Result<(), Race> {
        match self.transact(items).await {
            Ok(Written::Yes) => Ok(()),
            Ok(Written::LostRace) => Err(Race::Lost),
            Err(e) => Err(Race::Fault(e)),
        }
    }
}

fn put(builder: aws_sdk_dynamodb::types::builders::PutBuilder) -> Result<TransactWriteItem, Race> {
    let put = builder.build().map_err(|e| Race::Fault(e.into()))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// A conditional write either lost to a concurrent writer or failed.
enum Race {
    Lost,
    Fault(Error),
}

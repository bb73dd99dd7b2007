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

use super::{ItemContext as _, Store, backend, is_condition_failure, n, s};
use crate::oauth::error::Error;
use crate::tokens::secret::random_id;

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
    pub created_at: i64,
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
        let Some(item) = self.get(user_key(id), "USER", 0).await? else {
            return Ok(None);
        };
        Ok(Some(User {
            id: item.string("user_id").item("user")?,
            openids: item.string_map("openids"),
            unionid: item.opt_string("unionid"),
            created_at: item.opt_number("created_at").unwrap_or_default(),
        }))
    }

    /// The user behind a WeChat identity, created on first sight. Returns the user id.
    pub async fn wechat_user(&self, identity: &WechatIdentity, now: i64) -> Result<String, Error> {
        // A lost race is settled by reading again; three rounds cover every interleaving of a
        // concurrent openid creation and a concurrent unionid creation.
        for _ in 0..3 {
            if let Some(user_id) = self
                .mapped_user(openid_key(&identity.appid, &identity.openid))
                .await?
            {
                return Ok(user_id);
            }
            let by_union = match &identity.unionid {
                Some(unionid) => self.mapped_user(unionid_key(unionid)).await?,
                None => None,
            };
            let attempt = match by_union {
                Some(user_id) => self
                    .link_openid(&user_id, identity, now)
                    .await
                    .map(|()| user_id),
                None => self.create_wechat_user(identity, now).await,
            };
            match attempt {
                Ok(user_id) => return Ok(user_id),
                Err(Race::Lost) => continue,
                Err(Race::Fault(e)) => return Err(e),
            }
        }
        Err(Error::Unavailable(anyhow::anyhow!(
            "user creation kept losing races"
        )))
    }

    async fn mapped_user(&self, pk: String) -> Result<Option<String>, Error> {
        match self.get(pk, "MAP", 0).await? {
            Some(item) => item.string("user_id").item("identity mapping").map(Some),
            None => Ok(None),
        }
    }

    async fn create_wechat_user(
        &self,
        identity: &WechatIdentity,
        now: i64,
    ) -> Result<String, Race> {
        let user_id = random_id();
        let mut user = self
            .put_new(user_key(&user_id), "USER")
            .item("user_id", s(&user_id))
            .item("created_at", n(now))
            .item(
                "openids",
                AttributeValue::M(HashMap::from([(
                    identity.appid.clone(),
                    s(&identity.openid),
                )])),
            );
        if let Some(unionid) = &identity.unionid {
            user = user.item("unionid", s(unionid));
        }
        let mut items = vec![
            put(user)?,
            put(self.mapping(openid_key(&identity.appid, &identity.openid), &user_id, now))?,
        ];
        if let Some(unionid) = &identity.unionid {
            items.push(put(self.mapping(unionid_key(unionid), &user_id, now))?);
        }
        self.transact(items).await.map(|()| user_id)
    }

    async fn link_openid(
        &self,
        user_id: &str,
        identity: &WechatIdentity,
        now: i64,
    ) -> Result<(), Race> {
        let add_openid = Update::builder()
            .table_name(&self.table)
            .key("pk", s(user_key(user_id)))
            .key("sk", s("USER"))
            .update_expression("SET openids.#appid = :openid")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#appid", &identity.appid)
            .expression_attribute_values(":openid", s(&identity.openid))
            .build()
            .map_err(|e| Race::Fault(Error::Internal(e.into())))?;
        self.transact(vec![
            put(self.mapping(openid_key(&identity.appid, &identity.openid), user_id, now))?,
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

    fn mapping(
        &self,
        pk: String,
        user_id: &str,
        now: i64,
    ) -> aws_sdk_dynamodb::types::builders::PutBuilder {
        self.put_new(pk, "MAP")
            .item("user_id", s(user_id))
            .item("created_at", n(now))
    }

    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<(), Race> {
        match self
            .ddb
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Err(Race::Lost),
            Err(e) => Err(Race::Fault(backend("TransactWriteItems")(e))),
        }
    }
}

fn put(builder: aws_sdk_dynamodb::types::builders::PutBuilder) -> Result<TransactWriteItem, Race> {
    let put = builder
        .build()
        .map_err(|e| Race::Fault(Error::Internal(e.into())))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// A conditional write either lost to a concurrent writer or failed.
enum Race {
    Lost,
    Fault(Error),
}

//! Registered clients. Rules: a client id is unique (conditional put); its secret is stored only
//! as a hash; a mini program's WeChat app secret only as KMS ciphertext.

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;

use super::backend::{Store, backend, conditional};
use super::item::{Item, ItemContext as _, Key, s};
use crate::error::Error;
use crate::scope::Scope;

/// How a client authenticates, and what it may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKind {
    /// Holds a secret (a server).
    Confidential,
    /// Cannot keep a secret (a SPA, a native app): PKCE where codes are involved.
    Public,
    /// A WeChat mini program: public, and holds its WeChat appid and app secret server-side.
    MiniProgram,
}

impl ClientKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ClientKind::Confidential => "confidential",
            ClientKind::Public => "public",
            ClientKind::MiniProgram => "miniprogram",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "confidential" => Some(ClientKind::Confidential),
            "public" => Some(ClientKind::Public),
            "miniprogram" => Some(ClientKind::MiniProgram),
            _ => None,
        }
    }
}

/// A mini program's WeChat credentials.
#[derive(Debug, Clone, PartialEq)]
pub struct WechatApp {
    pub appid: String,
    /// KMS ciphertext of the app secret, encryption context `{"appid": appid}`.
    pub encrypted_secret: Vec<u8>,
}

/// A registered client.
#[derive(Debug, Clone, PartialEq)]
pub struct Client {
    pub id: String,
    pub name: String,
    pub kind: ClientKind,
    /// [`crate::secret::hash`] of the secret, confidential clients only.
    pub secret_hash: Option<String>,
    pub grant_types: Vec<String>,
    pub redirect_uris: Vec<String>,
    /// The most this client may ask for.
    pub scope: Scope,
    /// `aud` of its access tokens; the deployment's audience when `None`.
    pub audience: Option<String>,
    pub wechat: Option<WechatApp>,
    pub created_at: i64,
}

impl Client {
    pub fn is_confidential(&self) -> bool {
        self.kind == ClientKind::Confidential
    }

    pub fn allows_grant(&self, grant_type: &str) -> bool {
        self.grant_types.iter().any(|g| g == grant_type)
    }
}

fn key(id: &str) -> String {
    format!("CLIENT#{id}")
}

/// Why a client could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateClientError {
    #[error("a client with this id exists already")]
    Exists,
    #[error(transparent)]
    Store(#[from] Error),
}

impl Store {
    /// Registers `client`; refuses to overwrite an existing id.
    pub async fn create_client(&self, client: &Client) -> Result<(), CreateClientError> {
        let list = |v: &[String]| AttributeValue::L(v.iter().cloned().map(AttributeValue::S).collect());
        let mut put = self
            .ddb
            .put_item()
            .table_name(&self.table)
            .item("pk", s(key(&client.id)))
            .item("sk", s("CLIENT"))
            .item("client_id", s(&client.id))
            .item("name", s(&client.name))
            .item("kind", s(client.kind.as_str()))
            .item("grant_types", list(&client.grant_types))
            .item("redirect_uris", list(&client.redirect_uris))
            .item("scope", s(client.scope.to_string()))
            .item("created_at", super::item::n(client.created_at))
            .condition_expression("attribute_not_exists(pk)");
        if let Some(hash) = &client.secret_hash {
            put = put.item("secret_hash", s(hash));
        }
        if let Some(aud) = &client.audience {
            put = put.item("audience", s(aud));
        }
        if let Some(app) = &client.wechat {
            put = put
                .item("wechat_appid", s(&app.appid))
                .item("wechat_secret", AttributeValue::B(Blob::new(app.encrypted_secret.clone())));
        }
        match conditional(put.send().await, "PutItem")? {
            Some(_) => Ok(()),
            None => Err(CreateClientError::Exists),
        }
    }

    pub async fn client(&self, id: &str) -> Result<Option<Client>, Error> {
        let Some(item) = self.get_permanent(Key::new(key(id), "CLIENT")).await? else {
            return Ok(None);
        };
        parse(&item).reading("client").map(Some)
    }

    /// Every client; for administration, not for request paths (it scans).
    pub async fn clients(&self) -> Result<Vec<Client>, Error> {
        let mut clients = Vec::new();
        let mut pages = self
            .ddb
            .scan()
            .table_name(&self.table)
            .filter_expression("sk = :sk")
            .expression_attribute_values(":sk", s("CLIENT"))
            .into_paginator()
            .items()
            .send();
        while let Some(item) = pages.next().await {
            let item = item.map_err(backend("Scan"))?;
            clients.push(parse(&Item(item)).reading("client")?);
        }
        clients.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(clients)
    }

    /// Deletes a client; `false` when there was none.
    pub async fn delete_client(&self, id: &str) -> Result<bool, Error> {
        let out = self
            .ddb
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(key(id)))
            .key("sk", s("CLIENT"))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(backend("DeleteItem"))?;
        Ok(out.attributes.is_some())
    }
}

fn parse(item: &Item) -> anyhow::Result<Client> {
    let kind = item.string("kind")?;
    let appid = item.opt_string("wechat_appid");
    Ok(Client {
        id: item.string("client_id")?,
        name: item.opt_string("name").unwrap_or_default(),
        kind: ClientKind::parse(&kind).ok_or_else(|| anyhow::anyhow!("unknown client kind {kind:?}"))?,
        secret_hash: item.opt_string("secret_hash"),
        grant_types: item.string_list("grant_types"),
        redirect_uris: item.string_list("redirect_uris"),
        scope: Scope::parse(&item.opt_string("scope").unwrap_or_default())
            .map_err(|_| anyhow::anyhow!("stored scope is malformed"))?,
        audience: item.opt_string("audience"),
        wechat: match appid {
            Some(appid) => Some(WechatApp {
                appid,
                encrypted_secret: item
                    .opt_bytes("wechat_secret")
                    .ok_or_else(|| anyhow::anyhow!("wechat_secret missing"))?,
            }),
            None => None,
        },
        created_at: item.opt_number("created_at").unwrap_or_default(),
    })
}

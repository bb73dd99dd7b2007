//! Registered clients ([`Client`]), `CLIENT#<client_id>` / `CLIENT`.
//!
//! Rules: a client id is unique (conditional put); an update changes an existing client only
//! (conditional update) and never its id, kind or WeChat credentials; its secret is stored only as a hash; a mini
//! program's WeChat app secret only sealed ([`WechatApp::encrypted_secret`]: a `WXE1` envelope
//! under a KMS data key, encryption context purpose + appid).

use super::backend::{Store, backend, conditional};
use super::item::{Item, ItemContext as _, Key, b, boolean, n, s, string_list};
use crate::domain::client::{BackchannelLogout, Client, ClientKind, WechatApp};
use crate::error::Error;
use crate::scope::Scope;

const SK: &str = "CLIENT";

/// The key of client `id`'s item.
pub fn key(id: &str) -> Key {
    Key::new(format!("CLIENT#{id}"), SK)
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
        match self.put_if_absent(to_item(client)).await? {
            true => Ok(()),
            false => Err(CreateClientError::Exists),
        }
    }

    pub async fn client(&self, id: &str) -> Result<Option<Client>, Error> {
        let Some(item) = self.get_permanent(key(id)).await? else {
            return Ok(None);
        };
        from_item(&item).reading("client").map(Some)
    }

    /// Every client; for administration, not for request paths (it scans).
    pub async fn clients(&self) -> Result<Vec<Client>, Error> {
        let mut clients = Vec::new();
        let mut pages = self
            .ddb
            .scan()
            .table_name(&self.table)
            .filter_expression("sk = :sk")
            .expression_attribute_values(":sk", s(SK))
            .into_paginator()
            .items()
            .send();
        while let Some(item) = pages.next().await {
            let item = item.map_err(backend("Scan"))?;
            clients.push(from_item(&Item(item)).reading("client")?);
        }
        clients.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(clients)
    }

    /// Writes what an update may change of `client` (everything but its id, kind, WeChat
    /// credentials and creation time) over its stored item, only if it still exists: a client
    /// deleted meanwhile is not recreated. `false` when there was none. One `UpdateItem`, so
    /// attributes it does not name stay as they are.
    pub async fn update_client(&self, client: &Client) -> Result<bool, Error> {
        let mut values = to_item(client).into_attributes();
        let (mut set, mut remove) = (Vec::new(), Vec::new());
        let mut update = self.update_item(key(&client.id)).condition_expression("attribute_exists(pk)");
        for (i, name) in UPDATABLE.iter().enumerate() {
            // Placeholders for every name: `name` is one of DynamoDB's reserved words.
            update = update.expression_attribute_names(format!("#a{i}"), *name);
            match values.remove(*name) {
                Some(value) => {
                    set.push(format!("#a{i} = :a{i}"));
                    update = update.expression_attribute_values(format!(":a{i}"), value);
                }
                None => remove.push(format!("#a{i}")),
            }
        }
        let mut expression = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        let written = conditional(update.update_expression(expression).send().await, "UpdateItem")?;
        Ok(written.is_some())
    }

    /// Deletes a client; `false` when there was none.
    pub async fn delete_client(&self, id: &str) -> Result<bool, Error> {
        self.delete_existing(key(id)).await
    }
}

/// The attributes [`Store::update_client`] writes (or removes when [`to_item`] leaves them out).
const UPDATABLE: [&str; 9] = [
    "name",
    "secret_hash",
    "grant_types",
    "redirect_uris",
    "post_logout_redirect_uris",
    "backchannel_logout_uri",
    "backchannel_logout_session_required",
    "scope",
    "audience",
];

pub(crate) fn to_item(client: &Client) -> Item {
    Item::keyed(key(&client.id))
        .set("client_id", s(&client.id))
        .set("name", s(&client.name))
        .set("kind", s(client.kind.as_str()))
        .set("grant_types", string_list(&client.grant_types))
        .set("redirect_uris", string_list(&client.redirect_uris))
        .set_opt(
            "post_logout_redirect_uris",
            (!client.post_logout_redirect_uris.is_empty()).then(|| string_list(&client.post_logout_redirect_uris)),
        )
        .set_opt("backchannel_logout_uri", client.backchannel_logout.as_ref().map(|b| s(&b.uri)))
        .set_opt(
            "backchannel_logout_session_required",
            client.backchannel_logout.as_ref().map(|b| boolean(b.session_required)),
        )
        .set("scope", s(client.scope.to_string()))
        .set("created_at", n(client.created_at))
        .set_opt("secret_hash", client.secret_hash.as_ref().map(s))
        .set_opt("audience", client.audience.as_ref().map(s))
        .set_opt("wechat_appid", client.wechat.as_ref().map(|app| s(&app.appid)))
        .set_opt("wechat_secret", client.wechat.as_ref().map(|app| b(&app.encrypted_secret)))
}

/// Items written before `name` and `created_at` existed read as an empty name and time 0.
pub(crate) fn from_item(item: &Item) -> anyhow::Result<Client> {
    let kind = item.string("kind")?;
    Ok(Client {
        id: item.string("client_id")?,
        name: item.opt_string("name").unwrap_or_default(),
        kind: ClientKind::parse(&kind).ok_or_else(|| anyhow::anyhow!("unknown client kind {kind:?}"))?,
        secret_hash: item.opt_string("secret_hash"),
        grant_types: item.string_list("grant_types"),
        redirect_uris: item.string_list("redirect_uris"),
        post_logout_redirect_uris: item.string_list("post_logout_redirect_uris"),
        backchannel_logout: item.opt_string("backchannel_logout_uri").map(|uri| BackchannelLogout {
            uri,
            session_required: item.opt_bool("backchannel_logout_session_required").unwrap_or(false),
        }),
        scope: Scope::parse(&item.opt_string("scope").unwrap_or_default())
            .map_err(|_| anyhow::anyhow!("stored scope is malformed"))?,
        audience: item.opt_string("audience"),
        wechat: match item.opt_string("wechat_appid") {
            Some(appid) => Some(WechatApp { appid, encrypted_secret: item.bytes("wechat_secret")? }),
            None => None,
        },
        created_at: item.opt_number("created_at").unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::types::AttributeValue;

    use super::*;

    fn mini_program() -> Client {
        Client {
            id: "mp-1".into(),
            name: "Shop".into(),
            kind: ClientKind::MiniProgram,
            secret_hash: None,
            grant_types: vec!["urn:wxauth:wechat".into(), "refresh_token".into()],
            redirect_uris: vec![],
            post_logout_redirect_uris: vec![],
            backchannel_logout: None,
            scope: Scope::parse("openid profile").expect("scope"),
            audience: Some("https://api.example".into()),
            wechat: Some(WechatApp { appid: "wx123".into(), encrypted_secret: vec![1, 2, 3] }),
            created_at: 1_700_000_000,
        }
    }

    #[test]
    fn a_client_round_trips_with_its_attribute_types() {
        let client = mini_program();
        let item = to_item(&client);
        assert_eq!(from_item(&item).expect("reads"), client);
        let a = item.attributes();
        assert_eq!(a["pk"], s("CLIENT#mp-1"));
        assert_eq!(a["sk"], s("CLIENT"));
        assert_eq!(a["created_at"], AttributeValue::N("1700000000".into()));
        assert!(matches!(a["grant_types"], AttributeValue::L(_)), "a list, not a string set");
        assert!(matches!(a["wechat_secret"], AttributeValue::B(_)));
        assert!(!a.contains_key("secret_hash"), "absent, never NULL");
        let mut names: Vec<&str> = a.keys().map(String::as_str).collect();
        names.sort_unstable();
        let expected = [
            "audience",
            "client_id",
            "created_at",
            "grant_types",
            "kind",
            "name",
            "pk",
            "redirect_uris",
            "scope",
            "sk",
            "wechat_appid",
            "wechat_secret",
        ];
        assert_eq!(names, expected);
    }

    #[test]
    fn logout_registrations_round_trip_and_are_absent_when_none() {
        let web = Client {
            post_logout_redirect_uris: vec!["https://rp.example/bye".into()],
            backchannel_logout: Some(BackchannelLogout {
                uri: "https://rp.example/bcl".into(),
                session_required: true,
            }),
            ..mini_program()
        };
        let item = to_item(&web);
        assert_eq!(from_item(&item).expect("reads"), web);
        assert_eq!(item.attributes()["backchannel_logout_session_required"], AttributeValue::Bool(true));
        let none = to_item(&mini_program());
        for name in ["post_logout_redirect_uris", "backchannel_logout_uri", "backchannel_logout_session_required"] {
            assert!(!none.attributes().contains_key(name), "{name}");
        }
    }

    #[test]
    fn every_attribute_is_either_updatable_or_fixed_at_creation() {
        let fixed = ["pk", "sk", "client_id", "kind", "created_at", "wechat_appid", "wechat_secret"];
        let full = Client {
            secret_hash: Some("h".into()),
            post_logout_redirect_uris: vec!["https://rp.example/bye".into()],
            backchannel_logout: Some(BackchannelLogout {
                uri: "https://rp.example/bcl".into(),
                session_required: true,
            }),
            ..mini_program()
        };
        for name in to_item(&full).attributes().keys() {
            let updatable = UPDATABLE.contains(&name.as_str());
            assert!(updatable != fixed.contains(&name.as_str()), "{name}: classify it in UPDATABLE or here");
        }
    }

    #[test]
    fn a_client_item_without_name_or_created_at_still_reads() {
        let old = Item::keyed(key("c"))
            .set("client_id", s("c"))
            .set("kind", s("confidential"))
            .set("secret_hash", s("h"))
            .set("grant_types", string_list(&["client_credentials".into()]));
        let client = from_item(&old).expect("an older item reads");
        assert_eq!((client.name.as_str(), client.created_at, client.scope.to_string()), ("", 0, String::new()));
        assert_eq!(client.secret_hash.as_deref(), Some("h"));
    }
}

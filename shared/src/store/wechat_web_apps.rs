//! Registered WeChat web apps ([`WechatWebApp`]), `WECHATWEB` / `APP#<appid>`: one partition, so
//! the sign-in page learns which kinds are registered with one Query of a few items.
//!
//! Rules: an appid is registered once (conditional put); its app secret is stored only sealed
//! (as a mini program's: a `WXE1` envelope under a KMS data key, context purpose + appid).

use super::backend::{Store, backend};
use super::item::{Item, ItemContext as _, Key, b, n, s};
use crate::domain::client::WechatApp;
use crate::domain::wechat_web::{VerifyFile, WebAppKind, WechatWebApp};
use crate::error::Error;

const PARTITION: &str = "WECHATWEB";
const SK_PREFIX: &str = "APP#";

/// The key of web app `appid`'s item.
pub fn key(appid: &str) -> Key {
    Key::new(PARTITION, format!("{SK_PREFIX}{appid}"))
}

impl Store {
    /// Registers `app`; `false` when its appid is registered already.
    pub async fn create_wechat_web_app(&self, app: &WechatWebApp) -> Result<bool, Error> {
        self.put_if_absent(to_item(app)).await
    }

    pub async fn wechat_web_app(&self, appid: &str) -> Result<Option<WechatWebApp>, Error> {
        let Some(item) = self.get_permanent(key(appid)).await? else { return Ok(None) };
        from_item(&item).reading("WeChat web app").map(Some)
    }

    /// Every registered web app, by appid.
    pub async fn wechat_web_apps(&self) -> Result<Vec<WechatWebApp>, Error> {
        let mut apps = Vec::new();
        let mut pages = self
            .ddb
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(PARTITION))
            .into_paginator()
            .items()
            .send();
        while let Some(item) = pages.next().await {
            apps.push(from_item(&Item(item.map_err(backend("Query"))?)).reading("WeChat web app")?);
        }
        Ok(apps)
    }

    /// Removes a web app; `false` when there was none.
    pub async fn delete_wechat_web_app(&self, appid: &str) -> Result<bool, Error> {
        self.delete_existing(key(appid)).await
    }
}

fn to_item(app: &WechatWebApp) -> Item {
    Item::keyed(key(app.appid()))
        .set("appid", s(app.appid()))
        .set("kind", s(app.kind.as_str()))
        .set("encrypted_secret", b(&app.credentials.encrypted_secret))
        .set("domain", s(&app.domain))
        .set("created_at", n(app.created_at))
        .set_opt("verify_file", app.verify_file.as_ref().map(|f| s(&f.name)))
        .set_opt("verify_content", app.verify_file.as_ref().map(|f| s(&f.content)))
}

fn from_item(item: &Item) -> anyhow::Result<WechatWebApp> {
    let kind = item.string("kind")?;
    Ok(WechatWebApp {
        credentials: WechatApp { appid: item.string("appid")?, encrypted_secret: item.bytes("encrypted_secret")? },
        kind: WebAppKind::parse(&kind).ok_or_else(|| anyhow::anyhow!("unknown web app kind {kind:?}"))?,
        domain: item.string("domain")?,
        verify_file: match (item.opt_string("verify_file"), item.opt_string("verify_content")) {
            (Some(name), Some(content)) => Some(VerifyFile { name, content }),
            _ => None,
        },
        created_at: item.opt_number("created_at").unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_web_app_round_trips_under_one_partition() {
        let app = WechatWebApp {
            credentials: WechatApp { appid: "wxoa".into(), encrypted_secret: vec![1, 2, 3] },
            kind: WebAppKind::OfficialAccount,
            domain: "auth.example.com".into(),
            verify_file: Some(VerifyFile { name: "MP_verify_abc.txt".into(), content: "abc".into() }),
            created_at: 5,
        };
        let item = to_item(&app);
        assert_eq!((&item.attributes()["pk"], &item.attributes()["sk"]), (&s("WECHATWEB"), &s("APP#wxoa")));
        assert_eq!(from_item(&item).expect("reads"), app);
        let website = WechatWebApp { kind: WebAppKind::Website, verify_file: None, ..app };
        assert_eq!(from_item(&to_item(&website)).expect("reads"), website);
    }
}

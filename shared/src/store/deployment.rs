//! What the table knows of its deployment ([`DeploymentSettings`]), `DEPLOYMENT` / `SETTINGS`:
//! the issuer and the default audience, so that the admin tool can refuse them as a client's
//! audience wherever it runs, with or without the functions' environment at hand.
//!
//! Rules: written by `wxauth-admin init --issuer` over whatever was there (the newest statement
//! wins: a stack deployed first with a placeholder issuer gets its real one later); read by the
//! admin tool only. The functions take `ISSUER` and `AUDIENCE` from their environment and never
//! read this item, so their IAM policies need not allow it.

use super::backend::Store;
use super::item::{Item, ItemContext as _, Key, n, s};
use crate::domain::deployment::DeploymentSettings;
use crate::error::Error;

const PK: &str = "DEPLOYMENT";
const SK: &str = "SETTINGS";

/// The key of the one settings item.
pub fn key() -> Key {
    Key::new(PK, SK)
}

impl Store {
    /// The recorded settings; `None` when `init` was never given the issuer.
    pub async fn deployment_settings(&self) -> Result<Option<DeploymentSettings>, Error> {
        let Some(item) = self.get_permanent(key()).await? else { return Ok(None) };
        from_item(&item).reading("deployment settings").map(Some)
    }

    /// Records `settings` over the previous ones.
    pub async fn record_deployment_settings(&self, settings: &DeploymentSettings) -> Result<(), Error> {
        self.put_unconditional(to_item(settings)).await
    }
}

fn to_item(settings: &DeploymentSettings) -> Item {
    Item::keyed(key())
        .set("issuer", s(&settings.issuer))
        .set_opt("audience", settings.audience.as_ref().map(s))
        .set("recorded_at", n(settings.recorded_at))
}

fn from_item(item: &Item) -> anyhow::Result<DeploymentSettings> {
    Ok(DeploymentSettings {
        issuer: item.string("issuer")?,
        audience: item.opt_string("audience"),
        recorded_at: item.opt_number("recorded_at").unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::types::AttributeValue;

    use super::*;

    #[test]
    fn the_settings_round_trip_under_one_fixed_key() {
        let settings = DeploymentSettings {
            issuer: "https://auth.example.com".into(),
            audience: Some("https://api.example.com".into()),
            recorded_at: 1_700_000_000,
        };
        let item = to_item(&settings);
        let a = item.attributes();
        assert_eq!((&a["pk"], &a["sk"]), (&s("DEPLOYMENT"), &s("SETTINGS")));
        assert_eq!(a["recorded_at"], AttributeValue::N("1700000000".into()));
        assert_eq!(from_item(&item).expect("reads"), settings);
        assert_eq!(
            settings.shared_audiences().collect::<Vec<_>>(),
            ["https://auth.example.com", "https://api.example.com"]
        );
    }

    #[test]
    fn without_an_audience_no_attribute_is_written() {
        let settings = DeploymentSettings { issuer: "https://auth.example.com".into(), audience: None, recorded_at: 5 };
        let item = to_item(&settings);
        assert!(!item.attributes().contains_key("audience"), "absent, never NULL");
        assert_eq!(from_item(&item).expect("reads"), settings);
        assert!(from_item(&Item::keyed(key())).is_err(), "an item without its issuer is malformed");
    }
}

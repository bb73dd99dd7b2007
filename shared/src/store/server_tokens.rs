//! Mini programs' WeChat server access tokens (`stable_token`), `WXTOKEN#<appid>` / `WXTOKEN`:
//! sealed by the data key (a `WXE1` envelope under KMS, [`crate::keys::data_key`]), shared by
//! every container until 5 minutes before they expire.

use super::backend::Store;
use super::item::{Item, Key, b, n};
use crate::error::Error;

/// The key of mini program `appid`'s server access token.
pub fn key(appid: &str) -> Key {
    Key::new(format!("WXTOKEN#{appid}"), "WXTOKEN")
}

impl Store {
    /// The ciphertext of `appid`'s token and when to stop using it, unless absent or expired.
    pub async fn server_token(&self, appid: &str, now: i64) -> Result<Option<(Vec<u8>, i64)>, Error> {
        let Some(item) = self.get(key(appid), now).await? else { return Ok(None) };
        Ok(from_item(&item))
    }

    pub async fn put_server_token(&self, appid: &str, ciphertext: Vec<u8>, expires_at: i64) -> Result<(), Error> {
        self.put_unconditional(to_item(appid, &ciphertext, expires_at)).await
    }
}

fn to_item(appid: &str, ciphertext: &[u8], expires_at: i64) -> Item {
    Item::keyed(key(appid)).set("token", b(ciphertext)).set("expires_at", n(expires_at))
}

/// The ciphertext and its end; a malformed item is as good as none (the token is fetched again).
fn from_item(item: &Item) -> Option<(Vec<u8>, i64)> {
    item.opt_bytes("token").zip(item.opt_number("expires_at"))
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::types::AttributeValue;

    use super::*;

    #[test]
    fn a_server_token_round_trips_as_binary() {
        let item = to_item("wx1", &[9, 8, 7], 500);
        assert_eq!(from_item(&item), Some((vec![9, 8, 7], 500)));
        assert!(matches!(item.attributes()["token"], AttributeValue::B(_)));
        assert_eq!(item.attributes()["pk"], AttributeValue::S("WXTOKEN#wx1".into()));
        assert_eq!(item.attributes().len(), 4);
    }
}

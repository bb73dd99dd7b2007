//! Items as DynamoDB holds them: an item's key, its attributes, and typed access to them.
//!
//! Every item kind maps to and from an [`Item`] in exactly one place, its module's `to_item` and
//! `from_item`; what a request sends or reads beyond that (update expressions, conditions) names
//! the same attributes. The getters fail loudly on a malformed item instead of guessing.

use std::collections::HashMap;

use anyhow::{Context as _, anyhow};
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::error::Error;

/// The attribute map of the DynamoDB API.
pub type Attributes = HashMap<String, AttributeValue>;

/// An item's primary key: `pk` and `sk`, both strings. Each item kind's module builds its keys
/// (`store::clients::key`, …); nothing else writes one by hand.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self { pk: pk.into(), sk: sk.into() }
    }

    /// `pk` and `sk` as the attribute map that `GetItem`, `UpdateItem` and `DeleteItem` take.
    pub fn attributes(&self) -> Attributes {
        HashMap::from([("pk".to_string(), s(&self.pk)), ("sk".to_string(), s(&self.sk))])
    }
}

/// A string attribute (`S`).
pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// A number attribute (`N`).
pub(crate) fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// A binary attribute (`B`).
pub(crate) fn b(value: &[u8]) -> AttributeValue {
    AttributeValue::B(Blob::new(value))
}

/// A boolean attribute (`BOOL`).
pub(crate) fn boolean(value: bool) -> AttributeValue {
    AttributeValue::Bool(value)
}

/// A list of strings (`L` of `S`, not a string set: an empty list is allowed).
pub(crate) fn string_list(values: &[String]) -> AttributeValue {
    AttributeValue::L(values.iter().map(s).collect())
}

/// A string set (`SS`), the kind `ADD` unites; `None` for no strings (DynamoDB stores no empty
/// set).
pub(crate) fn string_set<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<AttributeValue> {
    let values: Vec<String> = values.into_iter().map(str::to_string).collect();
    (!values.is_empty()).then_some(AttributeValue::Ss(values))
}

/// A map of strings (`M` of `S`).
pub(crate) fn string_map(values: &HashMap<String, String>) -> AttributeValue {
    AttributeValue::M(values.iter().map(|(k, v)| (k.clone(), s(v))).collect())
}

/// One item: built by a kind's `to_item`, read by its `from_item`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Item(pub(crate) Attributes);

impl Item {
    /// An item with its key and nothing else yet.
    pub(crate) fn keyed(key: Key) -> Self {
        Self(key.attributes())
    }

    /// Sets an attribute.
    pub(crate) fn set(mut self, name: &str, value: AttributeValue) -> Self {
        self.0.insert(name.to_string(), value);
        self
    }

    /// Sets an attribute when there is a value; `None` leaves it out (never a `NULL`).
    pub(crate) fn set_opt(self, name: &str, value: Option<AttributeValue>) -> Self {
        match value {
            Some(value) => self.set(name, value),
            None => self,
        }
    }

    pub fn attributes(&self) -> &Attributes {
        &self.0
    }

    pub fn into_attributes(self) -> Attributes {
        self.0
    }

    pub(crate) fn string(&self, name: &str) -> anyhow::Result<String> {
        self.opt_string(name).ok_or_else(|| anyhow!("item attribute `{name}` is missing or not a string"))
    }

    pub(crate) fn opt_string(&self, name: &str) -> Option<String> {
        self.0.get(name).and_then(|v| v.as_s().ok()).cloned()
    }

    /// The string after `prefix` in attribute `name` (a key's value, such as a hash in `pk`).
    pub(crate) fn string_after(&self, name: &str, prefix: &str) -> anyhow::Result<String> {
        let value = self.string(name)?;
        value.strip_prefix(prefix).map(str::to_string).with_context(|| format!("`{name}` does not start with {prefix}"))
    }

    pub(crate) fn number(&self, name: &str) -> anyhow::Result<i64> {
        self.opt_number(name).ok_or_else(|| anyhow!("item attribute `{name}` is missing or not a number"))
    }

    pub(crate) fn opt_number(&self, name: &str) -> Option<i64> {
        self.0.get(name).and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok())
    }

    pub(crate) fn opt_bytes(&self, name: &str) -> Option<Vec<u8>> {
        self.0.get(name).and_then(|v| v.as_b().ok()).map(|b| b.as_ref().to_vec())
    }

    pub(crate) fn bytes(&self, name: &str) -> anyhow::Result<Vec<u8>> {
        self.opt_bytes(name).ok_or_else(|| anyhow!("item attribute `{name}` is missing or not binary"))
    }

    pub(crate) fn opt_bool(&self, name: &str) -> Option<bool> {
        self.0.get(name).and_then(|v| v.as_bool().ok()).copied()
    }

    pub(crate) fn string_list(&self, name: &str) -> Vec<String> {
        self.0
            .get(name)
            .and_then(|v| v.as_l().ok())
            .map(|l| l.iter().filter_map(|v| v.as_s().ok().cloned()).collect())
            .unwrap_or_default()
    }

    /// A string set's members, sorted; none when absent.
    pub(crate) fn string_set(&self, name: &str) -> Vec<String> {
        let mut values = self.0.get(name).and_then(|v| v.as_ss().ok()).cloned().unwrap_or_default();
        values.sort();
        values
    }

    pub(crate) fn string_map(&self, name: &str) -> HashMap<String, String> {
        self.0
            .get(name)
            .and_then(|v| v.as_m().ok())
            .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_s().ok()?.clone()))).collect())
            .unwrap_or_default()
    }

    /// TTL deletes late: an item past `expires_at` is treated as gone.
    pub(crate) fn is_expired(&self, now: i64) -> bool {
        self.opt_number("expires_at").is_some_and(|at| at <= now)
    }
}

/// Wraps a context for errors from our own reading of items.
pub(crate) trait ItemContext<T> {
    fn reading(self, kind: &'static str) -> Result<T, Error>;
}

impl<T> ItemContext<T> for anyhow::Result<T> {
    fn reading(self, kind: &'static str) -> Result<T, Error> {
        self.with_context(|| format!("reading a {kind} item")).map_err(Error::Internal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_absent_option_is_left_out_not_null() {
        let item = Item::keyed(Key::new("X#1", "X")).set_opt("a", None).set_opt("b", Some(n(2)));
        assert_eq!(item.attributes().len(), 3);
        assert!(!item.attributes().contains_key("a"));
        assert_eq!(item.opt_number("b"), Some(2));
    }

    #[test]
    fn getters_refuse_the_wrong_type() {
        let item = Item::keyed(Key::new("X#1", "X")).set("n", s("7"));
        assert!(item.number("n").is_err(), "a number stored as a string is malformed");
        assert_eq!(item.string_after("pk", "X#").expect("prefixed"), "1");
        assert!(item.string_after("pk", "Y#").is_err());
    }
}

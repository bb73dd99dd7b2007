//! An OAuth request's parameters, parsed once by the rules RFC 6749 sets for all of them
//! (empty means absent, none may repeat), whether they came in a query or a form body.

use std::collections::HashMap;

use crate::error::OAuthError;

/// The parameters of a request (RFC 6749 §3.1, §3.2), from a query or a form body.
#[derive(Default, Clone, PartialEq)]
pub struct Params(HashMap<String, String>);

/// Paramss carry codes, tokens and secrets: only the parameter names are ever printed.
impl std::fmt::Debug for Params {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.0.keys().collect();
        names.sort();
        write!(f, "Params{names:?}")
    }
}

impl Params {
    /// RFC 6749 §3.1/§3.2: "Parameters sent without a value MUST be treated as if they were
    /// omitted from the request" and "Request and response parameters MUST NOT be included more
    /// than once."
    pub fn parse(body: &[u8]) -> Result<Self, OAuthError> {
        let mut params = HashMap::new();
        for (name, value) in form_urlencoded_pairs(body)? {
            if value.is_empty() {
                continue;
            }
            if params.insert(name.clone(), value).is_some() {
                return Err(OAuthError::invalid_request(format!("parameter `{}` is repeated", printable(&name))));
            }
        }
        Ok(Self(params))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    pub fn require(&self, name: &'static str) -> Result<&str, OAuthError> {
        self.get(name).ok_or_else(|| OAuthError::invalid_request(format!("missing parameter `{name}`")))
    }

    /// Keeps only `names`: a grant sees no parameter it did not declare.
    pub fn only(&self, names: &[&str]) -> Params {
        Params(
            self.0.iter().filter(|(k, _)| names.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect(),
        )
    }
}

pub(crate) fn form_urlencoded_pairs(body: &[u8]) -> Result<Vec<(String, String)>, OAuthError> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .map_err(|_| OAuthError::invalid_request("the body is not valid form-urlencoded data"))
}

/// Parameter names come from the client: keep what we echo short and plain.
fn printable(name: &str) -> String {
    name.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_parses_and_drops_empty_values() {
        let params = Params::parse(b"grant_type=x&code=a%2Bb&scope=").expect("form");
        assert_eq!(params.get("code"), Some("a+b"));
        assert_eq!(params.get("scope"), None);
    }

    #[test]
    fn a_repeated_parameter_is_invalid_request() {
        let e = Params::parse(b"code=a&code=b").expect_err("repeated");
        assert_eq!(e.error, "invalid_request");
    }

    #[test]
    fn invalid_utf8_is_replaced_not_trusted() {
        // Percent-decoding is lossy (WHATWG URL): the value can only match nothing we issued.
        assert_eq!(Params::parse(b"a=%FF%FE").expect("form").get("a"), Some("\u{FFFD}\u{FFFD}"));
    }

    proptest::proptest! {
        /// Any body whatsoever: an answer, never a panic.
        #[test]
        fn form_parsing_never_panics(body in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
            let _ = Params::parse(&body);
        }

        /// A parameter given twice with values is refused, wherever the two stand and however
        /// they are encoded; given once, each reads back as sent.
        #[test]
        fn every_duplicate_is_refused(
            params in proptest::collection::btree_map("[a-z_]{1,8}", "\\PC{1,12}", 1..6),
            twice in proptest::num::usize::ANY,
            other_value in "\\PC{1,12}",
        ) {
            let mut pairs: Vec<(String, String)> = params.clone().into_iter().collect();
            let body = serde_urlencoded::to_string(&pairs).expect("encode");
            let form = Params::parse(body.as_bytes()).expect("distinct names parse");
            for (name, value) in &params {
                proptest::prop_assert_eq!(form.get(name), Some(value.as_str()));
            }
            let repeated = pairs[twice % pairs.len()].0.clone();
            pairs.insert(twice % (pairs.len() + 1), (repeated, other_value));
            let body = serde_urlencoded::to_string(&pairs).expect("encode");
            let refused = Params::parse(body.as_bytes()).expect_err("a repeated parameter");
            proptest::prop_assert_eq!(refused.error, "invalid_request");
        }
    }
}

//! Scopes (RFC 6749 §3.3): parsed once into a set, compared as sets.

use std::collections::BTreeSet;
use std::fmt;

use crate::error::OAuthError;

/// A set of scope tokens. Parse, don't validate: a `Scope` is always well-formed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope(BTreeSet<String>);

impl Scope {
    /// `scope = scope-token *( SP scope-token )`, `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`.
    pub fn parse(text: &str) -> Result<Self, OAuthError> {
        let well_formed =
            |t: &str| t.bytes().all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b));
        let tokens: BTreeSet<String> = text.split(' ').filter(|t| !t.is_empty()).map(str::to_string).collect();
        if tokens.iter().any(|t| !well_formed(t)) {
            return Err(OAuthError::invalid_scope("the scope holds a malformed token"));
        }
        Ok(Self(tokens))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn is_subset_of(&self, other: &Scope) -> bool {
        self.0.is_subset(&other.0)
    }

    /// The tokens in both.
    pub fn intersection(&self, other: &Scope) -> Scope {
        Scope(self.0.intersection(&other.0).cloned().collect())
    }

    /// The tokens in either.
    pub fn union(&self, other: &Scope) -> Scope {
        Scope(self.0.union(&other.0).cloned().collect())
    }

    /// The tokens one by one, in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    pub fn contains(&self, token: &str) -> bool {
        self.0.contains(token)
    }

    /// What a request may have: `requested` when given (it must lie within `allowed`), else all
    /// of `allowed` (RFC 6749 §3.3 lets the server apply a default).
    pub fn grant(requested: Option<&str>, allowed: &Scope) -> Result<Scope, OAuthError> {
        match requested {
            None => Ok(allowed.clone()),
            Some(text) => {
                let scope = Scope::parse(text)?;
                if scope.is_subset_of(allowed) {
                    Ok(scope)
                } else {
                    Err(OAuthError::invalid_scope("the requested scope exceeds what this client or grant allows"))
                }
            }
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for token in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(token)?;
            first = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(s: &str) -> Scope {
        Scope::parse(s).expect("scope")
    }

    #[test]
    fn parse_sorts_and_dedups_and_ignores_extra_spaces() {
        assert_eq!(scope("b a  b").to_string(), "a b");
    }

    #[test]
    fn malformed_tokens_are_invalid_scope() {
        for bad in ["a\"b", "a\\b", "caf\u{e9}", "a\tb"] {
            assert_eq!(Scope::parse(bad).expect_err(bad).error, "invalid_scope");
        }
    }

    #[test]
    fn grant_defaults_to_allowed_and_refuses_widening() {
        let allowed = scope("openid profile");
        assert_eq!(Scope::grant(None, &allowed).expect("default"), allowed);
        assert_eq!(Scope::grant(Some("profile"), &allowed).expect("narrow"), scope("profile"));
        assert_eq!(Scope::grant(Some("profile admin"), &allowed).expect_err("wide").error, "invalid_scope");
    }

    proptest::proptest! {
        /// Whatever a client asks for, what it is granted lies within what it may have, and a
        /// narrowing (an intersection) lies within both sides.
        #[test]
        fn granting_and_narrowing_never_widen(
            allowed in proptest::collection::btree_set("[a-z:]{1,6}", 0..6),
            requested in proptest::collection::vec("[a-z:]{1,6}", 0..6),
        ) {
            let allowed = Scope(allowed);
            let text = requested.join(" ");
            if let Ok(granted) = Scope::grant(Some(&text), &allowed) {
                proptest::prop_assert!(granted.is_subset_of(&allowed));
            }
            let asked = Scope::parse(&text).expect("well-formed");
            let narrowed = asked.intersection(&allowed);
            proptest::prop_assert!(narrowed.is_subset_of(&allowed) && narrowed.is_subset_of(&asked));
        }

        /// Parsing takes any text without panicking, and what it accepts prints back to itself.
        #[test]
        fn scope_parsing_round_trips(text in "\\PC{0,40}") {
            if let Ok(scope) = Scope::parse(&text) {
                proptest::prop_assert_eq!(Scope::parse(&scope.to_string()).expect("reparses"), scope);
            }
        }
    }
}

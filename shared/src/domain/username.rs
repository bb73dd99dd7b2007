//! Usernames of password users: trimmed, 1–64 characters, printable (no control or invisible
//! formatting characters, no whitespace but the plain space) and case-insensitive: stored and
//! looked up lowercased ([`normalize_username`]).

/// The longest username, in characters (after trimming and lowercasing).
pub const MAX_USERNAME_CHARS: usize = 64;

/// The stored form of a username, or `None` when it is not an acceptable one.
pub fn normalize_username(username: &str) -> Option<String> {
    let name = username.trim().to_lowercase();
    let length = name.chars().count();
    let printable = name.chars().all(|c| !c.is_control() && !is_invisible(c) && (c == ' ' || !c.is_whitespace()));
    ((1..=MAX_USERNAME_CHARS).contains(&length) && printable).then_some(name)
}

/// Formatting characters that render as nothing and would make look-alike usernames:
/// zero-width spaces and joiners, direction marks and overrides, word joiners, the BOM.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{00AD}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_trimmed_and_lowercased() {
        assert_eq!(normalize_username("  Alice ").as_deref(), Some("alice"));
        assert_eq!(normalize_username("ÄBC").as_deref(), Some("äbc"));
        assert_eq!(normalize_username("first last").as_deref(), Some("first last"));
        assert_eq!(normalize_username("a#b@c.d").as_deref(), Some("a#b@c.d"));
        let name = normalize_username("Bob").expect("valid");
        assert_eq!(normalize_username(&name), Some(name), "normalizing twice changes nothing");
    }

    #[test]
    fn usernames_are_one_to_64_characters() {
        assert_eq!(normalize_username(""), None);
        assert_eq!(normalize_username("   "), None);
        assert!(normalize_username(&"a".repeat(64)).is_some());
        assert_eq!(normalize_username(&"a".repeat(65)), None);
        assert!(normalize_username(&"用".repeat(64)).is_some(), "characters, not bytes");
    }

    #[test]
    fn usernames_are_printable() {
        for bad in ["a\tb", "a\nb", "a\u{0}b", "a\u{7f}b", "a\u{200B}b", "a\u{202E}b", "a\u{FEFF}b", "a\u{3000}b"] {
            assert_eq!(normalize_username(bad), None, "{bad:?}");
        }
    }
}

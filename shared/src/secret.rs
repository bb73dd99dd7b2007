//! Opaque secrets: refresh tokens, authorization codes, client secrets, ids.
//!
//! 256 bits from the OS generator, base64url without padding. Only [`hash`]es are stored, so a
//! leaked table holds nothing a client could present. The inputs have full entropy, so one
//! SHA-256 is enough (a slow password hash would add nothing but latency).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A fresh secret of 32 random bytes.
pub fn random_token() -> String {
    random_base64url::<32>()
}

/// A fresh identifier of 16 random bytes (user ids, token family ids, `jti`).
pub fn random_id() -> String {
    random_base64url::<16>()
}

/// A fresh secret of 32 random bytes as 64 hexadecimal digits: for handles that travel where only
/// letters and digits may (WeChat's `state`).
pub fn random_alphanumeric() -> String {
    random_hex::<32>()
}

/// `N` random bytes as `2N` hexadecimal digits.
pub fn random_hex<const N: usize>() -> String {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("the operating system's random generator failed");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `len` characters drawn uniformly from `alphabet` (ASCII, 1 to 128 characters): short codes a
/// person types, such as the device flow's user code. Bytes beyond the largest multiple of the
/// alphabet's size are drawn again, so that no character is likelier than another.
pub fn random_chars(alphabet: &[u8], len: usize) -> String {
    let size = alphabet.len();
    assert!((1..=128).contains(&size) && alphabet.is_ascii(), "an ASCII alphabet of 1 to 128 characters");
    let limit = 256 - 256 % size;
    let mut out = String::with_capacity(len);
    while out.len() < len {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).expect("the operating system's random generator failed");
        for b in bytes.into_iter().filter(|b| usize::from(*b) < limit).take(len - out.len()) {
            out.push(char::from(alphabet[usize::from(b) % size]));
        }
    }
    out
}

fn random_base64url<const N: usize>() -> String {
    let mut bytes = [0u8; N];
    // The OS generator failing means the machine cannot do cryptography at all.
    getrandom::fill(&mut bytes).expect("the operating system's random generator failed");
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The stored form of a secret: base64url(SHA-256(secret)).
pub fn hash(secret: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(secret.as_bytes()))
}

/// Compares two secrets (or hashes) in time independent of where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_carry_256_bits_and_are_url_safe() {
        let t = random_token();
        assert_eq!(URL_SAFE_NO_PAD.decode(&t).expect("base64url").len(), 32);
        assert!(t.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_ne!(t, random_token());
    }

    #[test]
    fn random_chars_come_from_the_alphabet_only() {
        let code = random_chars(b"BCD", 64);
        assert_eq!(code.len(), 64);
        assert!(code.bytes().all(|b| b"BCD".contains(&b)));
        assert!(code.contains('B') && code.contains('C') && code.contains('D'), "{code}");
    }

    #[test]
    fn hash_is_sha256_base64url() {
        // printf abc | sha256sum -> ba7816bf...; base64url of those bytes:
        assert_eq!(hash("abc"), "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
    }

    #[test]
    fn constant_time_eq_compares_whole_strings() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "abcd"));
    }
}

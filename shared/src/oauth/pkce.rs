//! PKCE (RFC 7636), S256 only: `plain` protects nothing that TLS does not, and every client
//! library supports S256.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::error::OAuthError;
use crate::secret::constant_time_eq;

/// A `code_challenge`: base64url of a SHA-256, 43 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeChallenge(String);

impl CodeChallenge {
    /// Parses `code_challenge` and `code_challenge_method` from an authorization request.
    pub fn parse(challenge: Option<&str>, method: Option<&str>) -> Result<Self, OAuthError> {
        let Some(challenge) = challenge else {
            return Err(OAuthError::invalid_request("code_challenge is required (PKCE, S256)"));
        };
        // RFC 7636 §4.3: a missing method means `plain`, which we do not accept.
        if method != Some("S256") {
            return Err(OAuthError::invalid_request("code_challenge_method must be S256"));
        }
        let decoded = URL_SAFE_NO_PAD.decode(challenge).ok();
        if challenge.len() != 43 || decoded.is_none_or(|d| d.len() != 32) {
            return Err(OAuthError::invalid_request("code_challenge must be base64url(SHA-256(code_verifier))"));
        }
        Ok(Self(challenge.to_string()))
    }

    pub fn from_stored(challenge: String) -> Self {
        Self(challenge)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// RFC 7636 §4.6: `BASE64URL-ENCODE(SHA256(ASCII(code_verifier))) == code_challenge`.
    pub fn verify(&self, verifier: &str) -> bool {
        // §4.1: code-verifier = 43*128unreserved
        let well_formed = (43..=128).contains(&verifier.len())
            && verifier.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
        well_formed && constant_time_eq(&URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())), &self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7636 Appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn the_rfc_example_verifies() {
        let c = CodeChallenge::parse(Some(CHALLENGE), Some("S256")).expect("challenge");
        assert!(c.verify(VERIFIER));
        assert!(!c.verify(&VERIFIER.replace('d', "e")));
    }

    #[test]
    fn plain_and_missing_methods_are_refused() {
        assert!(CodeChallenge::parse(Some(CHALLENGE), None).is_err());
        assert!(CodeChallenge::parse(Some(CHALLENGE), Some("plain")).is_err());
        assert!(CodeChallenge::parse(None, Some("S256")).is_err());
    }

    #[test]
    fn a_challenge_that_is_not_a_sha256_is_refused() {
        assert!(CodeChallenge::parse(Some("short"), Some("S256")).is_err());
        assert!(CodeChallenge::parse(Some(&"!".repeat(43)), Some("S256")).is_err());
    }

    #[test]
    fn malformed_verifiers_never_match() {
        let c = CodeChallenge::parse(Some(CHALLENGE), Some("S256")).expect("challenge");
        assert!(!c.verify("too-short"));
        assert!(!c.verify(&format!("{VERIFIER} ")));
    }
}

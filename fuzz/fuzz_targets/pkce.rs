//! PKCE (RFC 7636): the authorization request's challenge and method, the token request's
//! verifier.
#![no_main]

use wxauth::oauth::pkce::CodeChallenge;

libfuzzer_sys::fuzz_target!(|input: (&str, &str, &str)| {
    let (challenge, method, verifier) = input;
    if let Ok(parsed) = CodeChallenge::parse(Some(challenge), Some(method)) {
        let stored = CodeChallenge::from_stored(parsed.as_str().to_string());
        let _ = stored.verify(verifier);
    }
    let _ = CodeChallenge::from_stored(challenge.to_string()).verify(verifier);
});

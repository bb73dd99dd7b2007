//! The form body of every POST (`application/x-www-form-urlencoded`, RFC 6749 §3.1: repeated
//! parameters refused, empty ones omitted).
#![no_main]

libfuzzer_sys::fuzz_target!(|body: &[u8]| {
    if let Ok(form) = wxauth::params::Params::parse(body) {
        // A parsed form answers every lookup, and narrowing keeps only what it is asked for.
        let only = form.only(&["grant_type", "code"]);
        assert!(only.get("refresh_token").is_none());
        let _ = form.require("grant_type");
    }
});

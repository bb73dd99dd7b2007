//! Scopes (RFC 6749 §3.3): parsing, granting within what a client may have, narrowing.
#![no_main]

use wxauth::scope::Scope;

libfuzzer_sys::fuzz_target!(|input: (&str, &str)| {
    let (allowed, requested) = input;
    let Ok(allowed) = Scope::parse(allowed) else { return };
    if let Ok(granted) = Scope::grant(Some(requested), &allowed) {
        assert!(granted.is_subset_of(&allowed), "a grant widened the scope");
        assert_eq!(Scope::parse(&granted.to_string()).expect("reparses"), granted);
    }
});

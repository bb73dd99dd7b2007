//! Redirect URIs at registration (absolute https, or http on loopback, no fragment, no
//! userinfo): what is accepted must parse to exactly itself.
#![no_main]

libfuzzer_sys::fuzz_target!(|uri: &str| {
    if wxauth_provision::acceptable_redirect_uri(uri) {
        let url = url::Url::parse(uri).expect("accepted, so it parses");
        assert!(url.fragment().is_none() && url.username().is_empty() && url.password().is_none());
        assert!(matches!(url.scheme(), "https" | "http"));
    }
});

//! `Authorization: Basic` (client authentication, RFC 6749 §2.3.1) and `Bearer` (RFC 6750 §2.1)
//! headers, alone and beside a form's client_id / client_secret.
#![no_main]

use http::{HeaderMap, HeaderValue, header};
use wxauth::oauth::client_auth::Credentials;

libfuzzer_sys::fuzz_target!(|input: (&[u8], &[u8])| {
    let (value, form) = input;
    let Ok(value) = HeaderValue::from_bytes(value) else { return };
    let mut headers = HeaderMap::new();
    headers.insert(header::AUTHORIZATION, value);
    if let Err(e) = wxauth::http::basic_credentials(&headers) {
        // A failed Basic attempt always asks for Basic again (RFC 6749 §5.2).
        assert_eq!((e.status, e.www_authenticate.as_deref()), (401, Some("Basic")));
    }
    let _ = wxauth::http::bearer_token(&headers);
    if let (Ok(basic), Ok(params)) = (wxauth::http::basic_credentials(&headers), wxauth::params::Params::parse(form)) {
        let _ = Credentials::new(basic, &params);
    }
});

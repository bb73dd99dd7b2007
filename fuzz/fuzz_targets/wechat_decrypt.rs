//! `POST /wechat/decrypt`'s input: base64 data and IV, AES-128-CBC, strict PKCS#7, the JSON
//! inside and its watermark; and the rawData signature check.
#![no_main]

/// The mock WeChat's session key for `ok-fuzz`: base64(sha256("mock-wechat session key:fuzz")[..16]).
const SESSION_KEY: &str = "sG+krqStsUOA7EEFKm5lFQ==";

libfuzzer_sys::fuzz_target!(|input: (&str, &str, &str, &str)| {
    let (encrypted_data, iv, raw_data, signature) = input;
    if let Ok(data) = wxauth::wechat::crypto::decrypt(SESSION_KEY, encrypted_data, iv, "wxfuzz") {
        assert_eq!(data["watermark"]["appid"], "wxfuzz");
    }
    let _ = wxauth::wechat::crypto::verify_raw_data(raw_data, SESSION_KEY, signature);
});

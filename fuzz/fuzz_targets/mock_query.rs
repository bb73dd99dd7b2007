//! The mock WeChat's query parsing and the code conventions behind it (`ok-<name>~<n>.u`,
//! `err-<errcode>`, `busy-<name>`, `phone-<digits>`): the stand-in must not fall over either.
#![no_main]

use mock_wechat::routes::query_params;
use mock_wechat::state::{Jscode2SessionRequest, Mock};

libfuzzer_sys::fuzz_target!(|query: &str| {
    let mut params = query_params(Some(query.to_string()));
    let mut mock = Mock::new([7; 32]);
    mock.register_app("wxfuzz", "secret");
    let req = Jscode2SessionRequest {
        appid: params.remove("appid").or(Some("wxfuzz".into())),
        secret: params.remove("secret").or(Some("secret".into())),
        js_code: params.remove("js_code"),
        grant_type: params.remove("grant_type").or(Some("authorization_code".into())),
    };
    let _ = mock.jscode2session(&req, 1_000);
    let _ = mock.phone_number("wxfuzz", params.get("code").map(String::as_str), 1_000);
    let _ = mock.check_session("wxfuzz", params.get("openid").map(String::as_str), params.get("signature").map(String::as_str), params.get("sig_method").map(String::as_str));
});

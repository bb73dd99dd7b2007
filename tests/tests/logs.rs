//! Nothing secret or personal in a log line: every flow runs with logging at TRACE (the way an
//! operator debugging production would set it) and the captured output is searched for the
//! session keys, tokens, codes, app secrets and phone numbers that went through.

use std::io::Write;
use std::sync::{Arc, Mutex};

use tracing_subscriber::util::SubscriberInitExt as _;

use serde_json::json;
use wxauth_tests::TestEnv;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_secret_or_phone_number_reaches_a_log_line_even_at_trace() {
    let captured = Captured::default();
    let writer = captured.clone();
    // This test's thread only (#[tokio::test] runs the whole flow on it): the other tests share
    // this process and log their own secrets, which are not this test's to look for.
    let _capture = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(format!("trace,{}", wxauth::logging::QUIET_TARGETS)))
        .with_writer(move || writer.clone())
        .set_default();

    let env = TestEnv::new().await;
    let mp = env.miniprogram().await;
    let login = env.login(&mp, "ok-zoe").await;
    let refreshed = env.refresh(&mp.client_id, login.str("refresh_token")).await;
    let replay = env.refresh(&mp.client_id, login.str("refresh_token")).await; // logs a reuse warning
    assert_eq!(replay.status, 400);
    let second = env.login(&mp, "ok-zoe~2").await;
    let phone = env
        .protected("POST", "/wechat/phone", second.str("access_token"), Some(json!({"code": "phone-13812345678"})))
        .await;
    assert_eq!(phone.status, 200, "{}", phone.json);
    env.protected("GET", "/wechat/session", second.str("access_token"), None).await;
    env.protected(
        "POST",
        "/wechat/decrypt",
        second.str("access_token"),
        Some(json!({"encrypted_data": "AAAAAAAAAAAAAAAAAAAAAA==", "iv": "r7BXXKkLb8qrSNn05n0qiA=="})),
    )
    .await;

    // The password grant and its client secret: a wrong password, then the right one.
    let kind = wxauth::domain::client::ClientKind::Confidential;
    let (client_id, secret) = env.client(kind, &["password"], &[], "openid", None).await;
    let secret = secret.expect("a confidential client's secret");
    env.password_user("zelda", "zelda-right-password").await;
    for (password, status) in [("zelda-wrong-password", 400), ("zelda-right-password", 200)] {
        let params = [("grant_type", "password"), ("username", "zelda"), ("password", password)];
        let reply = env.post_basic("/oauth/token", &client_id, &secret, &params).await;
        assert_eq!(reply.status, status, "{}", reply.json);
    }

    let logs = String::from_utf8(captured.0.lock().expect("lock").clone()).expect("utf8");
    assert!(logs.contains("refresh token reused"), "logging was captured at all: {} bytes", logs.len());
    let secrets = [
        ("session key", "mock-wechat session key"),
        ("app secret", &format!("secret-{}", mp.appid)),
        ("phone number", "13812345678"),
        ("refresh token", login.str("refresh_token")),
        ("rotated refresh token", refreshed.str("refresh_token")),
        ("access token", second.str("access_token")),
        ("WeChat code", "ok-zoe~2"),
        ("wrong password", "zelda-wrong-password"),
        ("password", "zelda-right-password"),
        ("client secret", &secret),
    ];
    for (what, secret) in secrets {
        assert!(!logs.contains(secret), "a {what} reached the logs");
    }
    for name in ["zoe", "zoe~2"] {
        use base64::Engine as _;
        use sha2::Digest as _;
        let key = base64::engine::general_purpose::STANDARD
            .encode(&sha2::Sha256::digest(format!("mock-wechat session key:{name}").as_bytes())[..16]);
        assert!(!logs.contains(&key), "a session key reached the logs");
    }
}

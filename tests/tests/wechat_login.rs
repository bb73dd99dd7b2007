//! The WeChat grant end to end: mock WeChat, moto's DynamoDB and KMS, the token handler.

use base64::Engine as _;
use wxauth::domain::user::Openid;
use wxauth::store::session_keys;
use wxauth::wechat::secrets::session_key_context;
use wxauth_tests::{ISSUER, TestEnv, mock_session_key};

#[tokio::test]
async fn login_returns_an_access_token_that_verifies_against_the_jwks() {
    let env = TestEnv::new().await;
    let mp = env.miniprogram().await;
    let reply = env.login(&mp, "ok-alice").await;

    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert_eq!(reply.header("pragma"), Some("no-cache"));
    assert_eq!(reply.str("token_type"), "Bearer");
    assert_eq!(reply.json["expires_in"], 900);
    assert_eq!(reply.str("openid"), "openid-alice");
    assert!(reply.json.get("unionid").is_none(), "no unionid unless WeChat gave one");
    assert!(reply.str("refresh_token").len() >= 43, "256 bits, base64url");
    assert_eq!(reply.str("scope"), "openid phone profile");

    let (header, claims) = env.verify_with_jwks(reply.str("access_token")).await;
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256, "the default algorithm");
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["aud"], ISSUER);
    assert_eq!(claims["client_id"], mp.client_id.as_str());
    assert_eq!(claims["scope"], reply.str("scope"));
    let exp = claims["exp"].as_i64().expect("exp");
    let iat = claims["iat"].as_i64().expect("iat");
    assert_eq!(exp - iat, 900);
    assert!(claims["jti"].as_str().is_some_and(|j| j.len() >= 22));
    let user =
        env.app.store.user(claims["sub"].as_str().expect("sub")).await.expect("read").expect("the subject is a user");
    assert_eq!(user.openids.get(&mp.appid).map(String::as_str), Some("openid-alice"));
}

#[tokio::test]
async fn the_same_openid_logs_in_as_the_same_user() {
    let env = TestEnv::new().await;
    let mp = env.miniprogram().await;
    let first = env.login(&mp, "ok-dora").await;
    let second = env.login(&mp, "ok-dora~2").await;
    assert_eq!(first.claims()["sub"], second.claims()["sub"]);
}

#[tokio::test]
async fn a_unionid_links_the_same_person_across_mini_programs() {
    let env = TestEnv::new().await;
    let shop = env.miniprogram().await;
    let game = env.miniprogram().await;
    let in_shop = env.login(&shop, "ok-erin.u").await;
    let in_game = env.login(&game, "ok-erin.u").await;
    assert_eq!(in_shop.str("unionid"), "unionid-erin");
    let (_, shop_claims) = env.verify_with_jwks(in_shop.str("access_token")).await;
    let (_, game_claims) = env.verify_with_jwks(in_game.str("access_token")).await;
    assert_eq!(shop_claims["sub"], game_claims["sub"]);
    let user = env.app.store.user(shop_claims["sub"].as_str().expect("sub")).await.expect("read").expect("user");
    assert_eq!(user.openids.len(), 2, "both openids belong to one user");
    assert_eq!(user.unionid.as_deref(), Some("unionid-erin"));
}

#[tokio::test]
async fn concurrent_first_logins_of_one_openid_create_one_user() {
    let env = TestEnv::new().await;
    let mp = env.miniprogram().await;
    let logins = (0..8).map(|i| {
        let env = &env;
        let mp = &mp;
        async move { env.login(mp, &format!("ok-frank~{i}")).await }
    });
    let replies = futures::future::join_all(logins).await;
    let subjects: std::collections::BTreeSet<String> =
        replies.iter().map(|r| r.claims()["sub"].as_str().expect("sub").to_string()).collect();
    assert_eq!(subjects.len(), 1, "one user for one openid: {subjects:?}");
}

#[tokio::test]
async fn a_reused_wechat_code_is_invalid_grant() {
    let env = TestEnv::new().await;
    let mp = env.miniprogram().await;
    env.login(&mp, "ok-gina").await;
    let again = env.wechat_login(&mp, "ok-gina").await;
    assert_eq!((again.status, again.error()), (400, "invalid_grant"));
    assert!(again.json["error_description"].is_string());
}

#[tokio::test]
async fn wechat_errors_get_their_documented_responses() {
    let env = TestEnv::new().await;
    let mp = env.miniprogram().await;
    let cases: [(&str, u16, &str); 5] = [
        ("err-40029", 400, "invalid_grant"),
        ("err-40163", 400, "invalid_grant"),
        ("err-45011", 429, "temporarily_unavailable"),
        ("err-40226", 403, "access_denied"),
        ("err--1", 503, "temporarily_unavailable"),
    ];
    for (code, status, error) in cases {
        let reply = env.wechat_login(&mp, code).await;
        assert_eq!((reply.status, reply.error()), (status, error), "{code}: {}", reply.json);
        assert_eq!(reply.header("cache-control"), Some("no-store"));
    }
    let quota = env.wechat_login(&mp, "err-45011").await;
    assert_eq!(quota.header("retry-after"), Some("60"));
}

#[tokio::test]
async fn a_busy_wechat_is_retried_once() {
    let env = TestEnv::new().await;
    let mp = env.miniprogram().await;
    let reply = env.login(&mp, "busy-hank").await;
    assert_eq!(reply.str("openid"), "openid-hank");
}

#[tokio::test]
async fn a_wrong_app_secret_is_a_bad_gateway_not_the_clients_fault() {
    let env = TestEnv::new().await;
    let mp = env.miniprogram().await;
    env.mock_post("/mock/apps", serde_json::json!({"appid": mp.appid, "secret": "rotated-on-the-wechat-side"})).await;
    let reply = env.wechat_login(&mp, "ok-ivan").await;
    assert_eq!((reply.status, reply.error()), (502, "server_error"));
    assert!(!reply.json.to_string().contains("secret-"), "no secret in the body");
}

#[tokio::test]
async fn an_unreachable_wechat_is_503() {
    let env = TestEnv::with_config(|c| {
        c.wechat_api_base = "http://127.0.0.1:9".into(); // discard port: connection refused
    })
    .await;
    let mp = env.miniprogram().await;
    let reply = env.wechat_login(&mp, "ok-jack").await;
    assert_eq!((reply.status, reply.error()), (503, "temporarily_unavailable"));
    assert!(reply.header("retry-after").is_some());
}

#[tokio::test]
async fn the_session_key_is_stored_encrypted_and_the_previous_one_is_kept() {
    let env = TestEnv::new().await;
    let mp = env.miniprogram().await;
    env.login(&mp, "ok-kate").await;
    env.login(&mp, "ok-kate~2").await;

    let item = env
        .raw_item(&session_keys::key(Openid { appid: &mp.appid, openid: "openid-kate" }))
        .await
        .expect("session key item");
    let first = mock_session_key("kate");
    let second = mock_session_key("kate~2");
    let raw = format!("{item:?}");
    for key in [&first, &second] {
        assert!(!raw.contains(key.as_str()), "the session key is not stored in plaintext");
        let bytes = base64::engine::general_purpose::STANDARD.decode(key).expect("b64");
        assert!(
            !item
                .values()
                .any(|v| v.as_b().is_ok_and(|b| { b.as_ref().windows(bytes.len()).any(|w| w == bytes.as_slice()) }))
        );
    }

    let keys = env
        .app
        .store
        .session_keys(Openid { appid: &mp.appid, openid: "openid-kate" }, wxauth::clock::unix_now())
        .await
        .expect("read")
        .expect("keys");
    let context = session_key_context(Openid { appid: &mp.appid, openid: "openid-kate" });
    let current = env.app.data_key.decrypt(&keys.current, &context).await.expect("decrypt current");
    let previous =
        env.app.data_key.decrypt(&keys.previous.expect("previous kept"), &context).await.expect("decrypt previous");
    assert_eq!(String::from_utf8(current).expect("utf8"), second);
    assert_eq!(String::from_utf8(previous).expect("utf8"), first);

    let other_user = session_key_context(Openid { appid: &mp.appid, openid: "openid-somebody-else" });
    assert!(
        env.app.data_key.decrypt(&keys.current, &other_user).await.is_err(),
        "bound to its user by the encryption context"
    );
}

#[tokio::test]
async fn an_expired_session_key_is_not_returned_although_the_item_exists() {
    let env = TestEnv::new().await;
    let mp = env.miniprogram().await;
    env.login(&mp, "ok-liam").await;
    let key = session_keys::key(Openid { appid: &mp.appid, openid: "openid-liam" });
    env.expire_item(&key).await;
    assert!(env.raw_item(&key).await.is_some());
    assert!(
        env.app
            .store
            .session_keys(Openid { appid: &mp.appid, openid: "openid-liam" }, wxauth::clock::unix_now())
            .await
            .expect("read")
            .is_none()
    );
}

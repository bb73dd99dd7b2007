//! WeChat user data: decrypting `encryptedData` with the stored session key, `rawData`
//! signatures, phone numbers through the server access token, and session-key health.

use serde_json::{Value, json};
use wxauth::domain::access_claims::AccessTokenId;
use wxauth::domain::user::Openid;
use wxauth::store::session_keys;
use wxauth_tests::{PROFILE_IV, Reply, TestEnv, encrypted_profile, mock_session_key};

const IV: &str = PROFILE_IV;

async fn decrypt(env: &TestEnv, login: &Reply, body: Value) -> Reply {
    env.protected("POST", "/wechat/decrypt", login.str("access_token"), Some(body)).await
}

#[tokio::test]
async fn data_encrypted_under_the_current_session_key_decrypts() {
    let env = TestEnv::new().await;
    let (mp, login) = env.logged_in("ok-amy").await;
    let reply = decrypt(&env, &login, encrypted_profile(&mock_session_key("amy"), &mp.appid, "Amy")).await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    assert_eq!(reply.json["data"]["nickName"], "Amy");
    assert_eq!(reply.json["data"]["watermark"]["appid"], mp.appid.as_str());
    assert_eq!(reply.header("cache-control"), Some("no-store"));
}

#[tokio::test]
async fn data_encrypted_under_the_previous_key_still_decrypts_after_a_quick_second_login() {
    let env = TestEnv::new().await;
    let (mp, first) = env.logged_in("ok-ben").await;
    let in_flight = encrypted_profile(&mock_session_key("ben"), &mp.appid, "Ben");
    let second = env.login(&mp, "ok-ben~2").await;
    for login in [&first, &second] {
        let reply = decrypt(&env, login, in_flight.clone()).await;
        assert_eq!(reply.status, 200, "{}", reply.json);
    }
}

#[tokio::test]
async fn the_previous_key_is_refused_once_its_grace_is_over() {
    let env = TestEnv::with_config(|c| c.previous_session_key_ttl = std::time::Duration::ZERO).await;
    let (mp, _) = env.logged_in("ok-cai").await;
    let stale = encrypted_profile(&mock_session_key("cai"), &mp.appid, "Cai");
    let second = env.login(&mp, "ok-cai~2").await;
    let reply = decrypt(&env, &second, stale).await;
    assert_eq!((reply.status, reply.error()), (400, "invalid_session_key"), "{}", reply.json);
}

#[tokio::test]
async fn an_expired_session_key_is_invalid_session_key() {
    let env = TestEnv::new().await;
    let (mp, login) = env.logged_in("ok-dan").await;
    env.expire_item(&session_keys::key(Openid { appid: &mp.appid, openid: "openid-dan" })).await;
    let reply = decrypt(&env, &login, encrypted_profile(&mock_session_key("dan"), &mp.appid, "Dan")).await;
    assert_eq!((reply.status, reply.error()), (400, "invalid_session_key"));
}

#[tokio::test]
async fn an_expired_key_is_not_kept_as_the_previous_one_by_the_next_login() {
    let env = TestEnv::new().await;
    let (mp, _) = env.logged_in("ok-dora").await;
    let stale = encrypted_profile(&mock_session_key("dora"), &mp.appid, "Dora");
    // Expired, but still there: TTL deletes late.
    env.expire_item(&session_keys::key(Openid { appid: &mp.appid, openid: "openid-dora" })).await;
    let second = env.login(&mp, "ok-dora~2").await;
    let reply = decrypt(&env, &second, stale).await;
    assert_eq!((reply.status, reply.error()), (400, "invalid_session_key"), "{}", reply.json);
    let fresh = encrypted_profile(&mock_session_key("dora~2"), &mp.appid, "Dora");
    assert_eq!(decrypt(&env, &second, fresh).await.status, 200, "the new key works");
}

#[tokio::test]
async fn data_of_another_mini_program_is_refused() {
    let env = TestEnv::new().await;
    let (_, login) = env.logged_in("ok-eve").await;
    let reply = decrypt(&env, &login, encrypted_profile(&mock_session_key("eve"), "wxsomebodyelse", "Eve")).await;
    assert_eq!((reply.status, reply.error()), (400, "invalid_session_key"));
}

#[tokio::test]
async fn raw_data_signatures_are_checked() {
    use sha1_hex::sha1_hex;
    let env = TestEnv::new().await;
    let (mp, login) = env.logged_in("ok-fay").await;
    let key = mock_session_key("fay");
    let raw = r#"{"nickName":"Fay"}"#;
    let mut body = encrypted_profile(&key, &mp.appid, "Fay");
    body["raw_data"] = json!(raw);
    body["signature"] = json!(sha1_hex(&format!("{raw}{key}")));
    assert_eq!(decrypt(&env, &login, body.clone()).await.status, 200);
    body["raw_data"] = json!(r#"{"nickName":"Mallory"}"#);
    let tampered = decrypt(&env, &login, body).await;
    assert_eq!((tampered.status, tampered.error()), (400, "invalid_request"));
}

#[tokio::test]
async fn a_rewritten_iv_changes_the_first_block_undetected_unless_raw_data_signs_it() {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use sha1_hex::sha1_hex;
    let env = TestEnv::new().await;
    let (mp, login) = env.logged_in("ok-gus").await;
    let key = mock_session_key("gus");
    // WeRun-like data: nothing signs it. The first block is `{"step":1000,"wa`.
    let plain = json!({"step": 1000, "watermark": {"appid": mp.appid, "timestamp": 1_700_000_000}}).to_string();
    assert_eq!(&plain[..16], r#"{"step":1000,"wa"#);
    let iv = STANDARD.decode(wxauth_tests::PROFILE_IV).expect("iv");
    let encrypted = wxauth::wechat::crypto::encrypt(&key, plain.as_bytes(), wxauth_tests::PROFILE_IV).expect("encrypt");
    // CBC: the first plaintext block is D(C1) xor IV, so xor-ing the IV rewrites it at will.
    let forged_block = br#"{"step":9999,"wa"#;
    let forged_iv: Vec<u8> = iv.iter().zip(plain.as_bytes()).zip(forged_block).map(|((v, p), f)| v ^ p ^ f).collect();
    let forged = json!({"encrypted_data": encrypted, "iv": STANDARD.encode(&forged_iv)});
    let reply = decrypt(&env, &login, forged.clone()).await;
    assert_eq!(reply.status, 200, "WeChat's scheme cannot see it: {}", reply.json);
    assert_eq!(reply.json["data"]["step"], 9999);
    assert_eq!(reply.json["authenticated"], false, "and the answer says nothing vouches for it");
    let mut strict = forged;
    strict["require_signature"] = json!(true);
    let refused = decrypt(&env, &login, strict).await;
    assert_eq!((refused.status, refused.error()), (400, "invalid_request"), "{}", refused.json);

    // Profile data with a signed raw_data: the signature covers raw_data, and raw_data must be
    // what was decrypted, so a rewritten first block no longer passes.
    let profile = json!({"nickName": "Gus", "watermark": {"appid": mp.appid, "timestamp": 1_700_000_000}}).to_string();
    let raw = r#"{"nickName":"Gus"}"#;
    let signed = |iv: &[u8]| {
        let data =
            wxauth::wechat::crypto::encrypt(&key, profile.as_bytes(), wxauth_tests::PROFILE_IV).expect("encrypt");
        json!({"encrypted_data": data, "iv": STANDARD.encode(iv), "raw_data": raw,
               "signature": sha1_hex(&format!("{raw}{key}")), "require_signature": true})
    };
    let genuine = decrypt(&env, &login, signed(&iv)).await;
    assert_eq!((genuine.status, genuine.json["authenticated"].clone()), (200, json!(true)), "{}", genuine.json);
    let forged_block = br#"{"nickName":"Bob"#;
    let forged_iv: Vec<u8> = iv.iter().zip(profile.as_bytes()).zip(forged_block).map(|((v, p), f)| v ^ p ^ f).collect();
    let tampered = decrypt(&env, &login, signed(&forged_iv)).await;
    assert_eq!((tampered.status, tampered.error()), (400, "invalid_request"), "{}", tampered.json);
}

mod sha1_hex {
    /// sha1 through python's hashlib: an implementation independent of ours.
    pub fn sha1_hex(text: &str) -> String {
        let out = std::process::Command::new("python3")
            .args(["-c", "import hashlib,sys; print(hashlib.sha1(sys.argv[1].encode()).hexdigest())", text])
            .output()
            .expect("python3");
        String::from_utf8(out.stdout).expect("utf8").trim().to_string()
    }
}

#[tokio::test]
async fn malformed_input_is_invalid_request() {
    let env = TestEnv::new().await;
    let (_, login) = env.logged_in("ok-gus").await;
    for body in [
        json!({"encrypted_data": "not base64!!", "iv": IV}),
        json!({"encrypted_data": "AAAA", "iv": "AAAA"}),
        json!({"encrypted_data": "AAAAAAAAAAAAAAAAAAAAAA==", "iv": IV, "raw_data": "x"}),
        json!({"iv": IV}),
    ] {
        let reply = decrypt(&env, &login, body.clone()).await;
        assert_eq!((reply.status, reply.error()), (400, "invalid_request"), "{body}: {}", reply.json);
    }
}

#[tokio::test]
async fn protected_endpoints_want_a_valid_bearer_token() {
    let env = TestEnv::new().await;
    let (_, login) = env.logged_in("ok-hal").await;
    let no_token = wxauth_tests::reply(
        wechat_decrypt::handle(
            &env.app,
            wxauth_tests::raw_request(
                "POST",
                "/wechat/decrypt",
                Some("application/json"),
                lambda_http::Body::Text("{}".into()),
            ),
        )
        .await,
    );
    assert_eq!((no_token.status, no_token.error()), (401, "invalid_token"));
    assert!(no_token.header("www-authenticate").is_some_and(|h| h.starts_with("Bearer realm=")));

    let mut forged = login.str("access_token").to_string();
    forged.replace_range(forged.len() - 4.., "AAAA");
    for token in ["garbage", forged.as_str()] {
        let reply = env.protected("GET", "/userinfo", token, None).await;
        assert_eq!((reply.status, reply.error()), (401, "invalid_token"), "{token}");
        assert!(reply.header("www-authenticate").is_some_and(|h| h.contains("error=\"invalid_token\"")));
    }
}

#[tokio::test]
async fn userinfo_answers_for_the_token_and_stops_once_it_is_revoked() {
    let env = TestEnv::new().await;
    let (mp, login) = env.logged_in("ok-ida.u").await;
    let info = env.protected("GET", "/userinfo", login.str("access_token"), None).await;
    assert_eq!(info.status, 200, "{}", info.json);
    assert_eq!(info.json["openid"], "openid-ida");
    assert_eq!(info.json["unionid"], "unionid-ida");
    assert!(info.json.get("phone_number").is_none());
    let _ = mp;

    let (_, claims) = env.verify_with_jwks(login.str("access_token")).await;
    let now = wxauth::clock::unix_now();
    env.app
        .store
        .revoke_access_token(
            AccessTokenId { jti: claims["jti"].as_str().expect("jti"), exp: claims["exp"].as_i64().expect("exp") },
            now,
        )
        .await
        .expect("revoke");
    let revoked = env.protected("GET", "/userinfo", login.str("access_token"), None).await;
    assert_eq!((revoked.status, revoked.error()), (401, "invalid_token"));
}

#[tokio::test]
async fn a_phone_number_is_fetched_stored_and_shown_in_userinfo_with_one_server_token() {
    let env = TestEnv::new().await;
    let (mp, login) = env.logged_in("ok-jon").await;
    for number in ["13800138000", "13900139000", "13700137000"] {
        let reply = env
            .protected(
                "POST",
                "/wechat/phone",
                login.str("access_token"),
                Some(json!({"code": format!("phone-{number}")})),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.json);
        assert_eq!(reply.json["pure_phone_number"], number);
        assert_eq!(reply.json["country_code"], "86");
    }
    let calls = env.mock_calls(&mp.appid).await;
    assert_eq!(calls["stable_token"], 1, "the server token is cached: {calls}");
    assert_eq!(calls["getuserphonenumber"], 3);
    let info = env.protected("GET", "/userinfo", login.str("access_token"), None).await;
    assert_eq!(info.json["phone_number"], "13700137000");
    let without_phone = env.refresh_scoped(&mp.client_id, login.str("refresh_token"), "openid").await;
    let info = env.protected("GET", "/userinfo", without_phone.str("access_token"), None).await;
    assert!(info.json.get("phone_number").is_none(), "the phone number needs the phone scope: {}", info.json);
}

#[tokio::test]
async fn a_rejected_server_token_is_renewed_once_and_the_call_retried() {
    let env = TestEnv::new().await;
    let (mp, login) = env.logged_in("ok-kim").await;
    let phone = |code: &str| json!({"code": code});
    assert_eq!(
        env.protected("POST", "/wechat/phone", login.str("access_token"), Some(phone("phone-13800000001")))
            .await
            .status,
        200
    );
    env.mock_post("/mock/access-tokens/invalidate", json!({"appid": mp.appid})).await;
    let reply =
        env.protected("POST", "/wechat/phone", login.str("access_token"), Some(phone("phone-13800000002"))).await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    env.mock_post("/mock/access-tokens/expire", json!({"appid": mp.appid})).await;
    let reply =
        env.protected("POST", "/wechat/phone", login.str("access_token"), Some(phone("phone-13800000003"))).await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    assert_eq!(env.mock_calls(&mp.appid).await["stable_token"], 3);
}

#[tokio::test]
async fn a_busy_wechat_is_asked_once_more_for_the_phone_number() {
    let env = TestEnv::new().await;
    let (mp, login) = env.logged_in("ok-lou").await;
    let reply = env
        .protected("POST", "/wechat/phone", login.str("access_token"), Some(json!({"code": "busy-phone-13600136000"})))
        .await;
    assert_eq!(reply.status, 200, "WeChat's -1 consumed nothing: {}", reply.json);
    assert_eq!(reply.json["pure_phone_number"], "13600136000");
    assert_eq!(env.mock_calls(&mp.appid).await["getuserphonenumber"], 2);
}

#[tokio::test]
async fn phone_errors_get_clear_answers() {
    let env = TestEnv::new().await;
    let (_, login) = env.logged_in("ok-lee").await;
    for (code, status, error) in [
        ("err-40029", 400, "invalid_request"),
        ("err-45011", 429, "temporarily_unavailable"),
        ("err--1", 503, "temporarily_unavailable"),
        (&"x".repeat(10_000), 400, "invalid_request"),
        ("a code with spaces", 400, "invalid_request"),
    ] {
        let reply =
            env.protected("POST", "/wechat/phone", login.str("access_token"), Some(json!({"code": code}))).await;
        assert_eq!((reply.status, reply.error()), (status, error), "{}: {}", &code[..code.len().min(20)], reply.json);
    }
}

#[tokio::test]
async fn the_session_check_follows_what_wechat_holds() {
    let env = TestEnv::new().await;
    let (mp, login) = env.logged_in("ok-max").await;
    let check = || env.protected("GET", "/wechat/session", login.str("access_token"), None);
    let fresh = check().await;
    assert_eq!((fresh.status, fresh.json["valid"].as_bool()), (200, Some(true)), "{}", fresh.json);

    // The mini program called wx.login() again but never told us: WeChat holds a newer key.
    let url = format!(
        "{}/sns/jscode2session?appid={}&secret=secret-{}&js_code=ok-max~2&grant_type=authorization_code",
        env.mock_wechat, mp.appid, mp.appid
    );
    let res = reqwest::get(url).await.expect("mock");
    assert!(res.status().is_success());
    let stale = check().await;
    assert_eq!((stale.status, stale.json["valid"].as_bool()), (200, Some(false)));

    env.login(&mp, "ok-max~3").await;
    assert_eq!(check().await.json["valid"].as_bool(), Some(true), "after logging in again");
}

#[tokio::test]
async fn a_token_of_a_client_that_is_not_a_mini_program_cannot_use_the_wechat_endpoints() {
    // Clients read afresh each time: with the cache, the deletion takes CLIENT_CACHE_TTL.
    let env = TestEnv::with_config(|c| c.client_cache_ttl = std::time::Duration::ZERO).await;
    let (mp, login) = env.logged_in("ok-ned").await;
    // The same user, through a client without WeChat credentials: forge nothing, just delete
    // the mini program's WeChat link by replacing the client.
    env.app.store.delete_client(&mp.client_id).await.expect("delete");
    let reply = decrypt(&env, &login, json!({"encrypted_data": "AAAA", "iv": IV})).await;
    assert_eq!((reply.status, reply.error()), (403, "access_denied"));
}

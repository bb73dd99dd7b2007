//! OpenID Connect: ID tokens from every grant that involves a user, the authorization
//! endpoint's OIDC parameters, and key rotation across algorithms as verifiers see it.

use std::time::Duration;

use wxauth::domain::client::ClientKind;
use wxauth::keys::algorithm::Algorithm;
use wxauth::tokens::id::at_hash;
use wxauth_tests::{
    ISSUER, PKCE_VERIFIER, Reply, TestEnv, approve, code_request, exchange, location_params, open_sign_in,
};

/// Checks what OpenID Connect Core §2 and §3.1.3.6 ask of an ID token issued beside `tokens`'
/// access token, and returns its claims.
async fn id_token_of(env: &TestEnv, tokens: &Reply, client_id: &str) -> serde_json::Value {
    assert_eq!(tokens.status, 200, "{}", tokens.json);
    let access = tokens.str("access_token");
    let (id_header, id) = env.verify_id_token(tokens.str("id_token"), client_id).await;
    let (access_header, claims) = env.verify_with_jwks(access).await;
    assert_eq!(id_header.kid, access_header.kid, "signed by the same key");
    assert_eq!(id["iss"], ISSUER);
    assert_eq!(id["sub"], claims["sub"], "the same sub as the access token");
    assert_eq!(id["aud"], client_id);
    assert_eq!(id["at_hash"], at_hash(access).as_str());
    assert!(id["exp"].as_i64() > id["iat"].as_i64());
    id
}

#[tokio::test]
async fn the_wechat_grant_returns_an_id_token_when_the_scope_has_openid() {
    let env = TestEnv::new().await;
    let mp = env.miniprogram().await;
    let before = wxauth::clock::unix_now();
    let tokens = env.login(&mp, "ok-ida").await;
    let id = id_token_of(&env, &tokens, &mp.client_id).await;
    assert!(id["auth_time"].as_i64().is_some_and(|t| t >= before), "auth_time is the login");
    assert!(id.get("nonce").is_none(), "no authorization request, no nonce");
    for profile_claim in ["openid", "unionid", "phone_number", "preferred_username"] {
        assert!(id.get(profile_claim).is_none(), "profile claims come from userinfo (§5.4): {id}");
    }
    let info = env.protected("GET", "/userinfo", tokens.str("access_token"), None).await;
    assert_eq!(info.json["sub"], id["sub"], "userinfo's sub is the ID token's");
    assert_eq!(info.header("content-type"), Some("application/json"));

    let narrow = env.wechat_login_scoped(&mp, "ok-idb", "profile").await;
    assert_eq!(narrow.status, 200);
    assert!(narrow.json.get("id_token").is_none(), "no openid scope, no ID token: {}", narrow.json);
}

#[tokio::test]
async fn an_id_token_is_no_access_token() {
    let env = TestEnv::new().await;
    let mp = env.miniprogram().await;
    let tokens = env.login(&mp, "ok-idn").await;
    let id_token = tokens.str("id_token");
    let info = env.protected("GET", "/userinfo", id_token, None).await;
    assert_eq!((info.status, info.error()), (401, "invalid_token"), "typ JWT is not at+jwt");
}

#[tokio::test]
async fn a_refresh_brings_a_new_id_token_with_the_original_auth_time() {
    let env = TestEnv::new().await;
    let mp = env.miniprogram().await;
    let first = env.login(&mp, "ok-idc").await;
    let original = id_token_of(&env, &first, &mp.client_id).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let refreshed = env.refresh(&mp.client_id, first.str("refresh_token")).await;
    let id = id_token_of(&env, &refreshed, &mp.client_id).await;
    assert_ne!(refreshed.str("id_token"), first.str("id_token"));
    assert!(id["iat"].as_i64() > original["iat"].as_i64(), "§12.2: its iat is new");
    assert_eq!(id["auth_time"], original["auth_time"], "§12.2: auth_time is the original authentication's");
    assert!(id.get("nonce").is_none());
    let narrowed = env.refresh_scoped(&mp.client_id, refreshed.str("refresh_token"), "phone").await;
    assert_eq!(narrowed.status, 200);
    assert!(narrowed.json.get("id_token").is_none(), "a refresh narrowed without openid: {}", narrowed.json);
}

#[tokio::test]
async fn the_password_grant_returns_an_id_token_and_client_credentials_none() {
    let env = TestEnv::new().await;
    env.password_user("olga", "a long enough password").await;
    let (client_id, secret) =
        env.client(ClientKind::Confidential, &["password", "client_credentials"], &[], "openid profile", None).await;
    let client = (client_id, secret.expect("secret"));
    let tokens = env.password_grant(&client, "olga", "a long enough password").await;
    let id = id_token_of(&env, &tokens, &client.0).await;
    assert!(id["auth_time"].is_i64());
    let service = env.client_credentials(&client.0, &client.1).await;
    assert_eq!(service.status, 200);
    assert_eq!(service.str("scope"), "openid profile");
    assert!(service.json.get("id_token").is_none(), "no user, no ID token");
}

async fn web_client(env: &TestEnv) -> String {
    env.web_client(&[], "openid profile").await
}

/// The code flow's authorization request of these tests, with `extra` parameters.
fn authorize<'a>(client_id: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut query = code_request(client_id, "openid profile", "st");
    query.extend_from_slice(extra);
    query
}

#[tokio::test]
async fn the_code_carries_the_nonce_into_the_id_token() {
    let env = TestEnv::new().await;
    let client_id = web_client(&env).await;
    env.password_user("nina", "nina's password").await;
    let nonce = "n-0S6_WzA2Mj é/+";
    let before = wxauth::clock::unix_now();
    let page = open_sign_in(&env, &authorize(&client_id, &[("nonce", nonce), ("max_age", "0"), ("prompt", "login")]))
        .await
        .expect("page");
    let res = approve(&env, &page, "nina", "nina's password").await;
    let code = location_params(&res).remove("code").expect("code");
    let tokens = exchange(&env, &client_id, &code, PKCE_VERIFIER).await;
    let id = id_token_of(&env, &tokens, &client_id).await;
    assert_eq!(id["nonce"], nonce, "echoed exactly");
    assert!(id["auth_time"].as_i64().is_some_and(|t| t >= before), "the sign-in, which max_age=0 asks for");
    let refreshed = env.refresh(&client_id, tokens.str("refresh_token")).await;
    let again = id_token_of(&env, &refreshed, &client_id).await;
    assert!(again.get("nonce").is_none(), "no nonce on refresh");
    assert_eq!(again["auth_time"], id["auth_time"]);
}

#[tokio::test]
async fn login_hint_prefills_the_username() {
    let env = TestEnv::new().await;
    let client_id = web_client(&env).await;
    let page =
        open_sign_in(&env, &authorize(&client_id, &[("login_hint", "hinted<user>"), ("ui_locales", "zh-CN en")]))
            .await
            .expect("page");
    // askama escapes `<` and `>` as numeric references.
    assert!(page.html.contains("value=\"hinted&#60;user&#62;\""), "pre-filled and escaped: {}", page.html);
    assert!(page.html.contains("<html lang=\"zh-CN\">"), "ui_locales' first language: {}", page.html);
}

#[tokio::test]
async fn oidc_errors_go_back_to_the_client() {
    let env = TestEnv::new().await;
    let client_id = web_client(&env).await;
    let cases = [
        (vec![("prompt", "none")], "login_required"),
        (vec![("prompt", "none login")], "invalid_request"),
        (vec![("prompt", "sometimes")], "invalid_request"),
        (vec![("request", "eyJhbGciOiJub25lIn0.e30.")], "request_not_supported"),
        (vec![("request_uri", "https://app.example/request.jwt")], "request_uri_not_supported"),
        (vec![("registration", "{}")], "registration_not_supported"),
        (vec![("max_age", "-1")], "invalid_request"),
    ];
    for (extra, error) in cases {
        let res = open_sign_in(&env, &authorize(&client_id, &extra)).await.expect_err("no page");
        let params = location_params(&res);
        assert_eq!(params.get("error").map(String::as_str), Some(error), "{extra:?}");
        assert_eq!(params.get("state").map(String::as_str), Some("st"));
        assert_eq!(params.get("iss").map(String::as_str), Some(ISSUER));
    }
    let long = "n".repeat(513);
    let res = open_sign_in(&env, &authorize(&client_id, &[("nonce", &long)])).await.expect_err("no page");
    assert_eq!(location_params(&res).get("error").map(String::as_str), Some("invalid_request"));
}

/// The registry's key `kid` becomes active now, as if its publish-ahead time had passed.
async fn activate_now(env: &TestEnv, kid: &str, others_from: i64) {
    use aws_sdk_dynamodb::types::AttributeValue;
    let now = wxauth::clock::unix_now();
    for (key, at) in env.app.store.signing_keys(now).await.expect("keys").iter().map(|k| {
        let at = if k.kid == kid { now } else { others_from.min(k.active_from) };
        (k.kid.clone(), at)
    }) {
        env.app
            .store
            .dynamodb()
            .update_item()
            .table_name(env.app.store.table())
            .set_key(Some(wxauth::store::signing_keys::key(&key).attributes()))
            .update_expression("SET active_from = :at")
            .expression_attribute_values(":at", AttributeValue::N(at.to_string()))
            .send()
            .await
            .expect("update active_from");
    }
}

#[tokio::test]
async fn rotating_es256_to_rs256_to_rs256_keeps_every_live_token_verifiable() {
    let env = TestEnv::with_signing(Algorithm::ES256, |c| c.key_cache_ttl = Duration::ZERO).await;
    let mp = env.miniprogram().await;
    let ttl = env.app.config.access_token_ttl.as_secs() as i64;
    let mut live = Vec::new();
    let es256 = env.login(&mp, "ok-rot").await;
    live.push((es256.str("access_token").to_string(), es256.str("id_token").to_string(), Algorithm::ES256));

    for (round, alg) in [(1, Some(Algorithm::RS256)), (2, None)] {
        let now = wxauth::clock::unix_now();
        let new = wxauth_provision::rotate_signing_key(
            &env.kms,
            &env.app.store,
            &env.app.config.kms_data_key_id,
            wxauth_provision::Rotation { alg, ..wxauth_provision::Rotation::default() },
            now,
            600,
            ttl,
        )
        .await
        .expect("rotate");
        assert_eq!(new.jwk.alg, Algorithm::RS256, "round {round}: RS256, then the current key's algorithm");
        activate_now(&env, &new.kid, now - 3600).await;
        let tokens = env.login(&mp, &format!("ok-rot~{round}")).await;
        live.push((tokens.str("access_token").to_string(), tokens.str("id_token").to_string(), Algorithm::RS256));
        let jwks = env.get("/.well-known/jwks.json").await;
        assert_eq!(jwks.json["keys"].as_array().expect("keys").len(), round + 1, "every key still published");
        // Every token issued so far verifies: at a resource server against the JWKS, at a relying
        // party as an ID token, and at our own protected resources.
        for (access, id, alg) in &live {
            let (header, _) = env.verify_with_jwks(access).await;
            assert_eq!(header.alg, alg.jsonwebtoken());
            env.verify_id_token(id, &mp.client_id).await;
            assert_eq!(env.protected("GET", "/userinfo", access, None).await.status, 200, "round {round}");
        }
    }

    // The ES256 key stays published until its last token has expired, and not after.
    let es256_kid = jsonwebtoken::decode_header(&live[0].0).expect("header").kid.expect("kid");
    let (_, first_claims) = env.verify_with_jwks(&live[0].0).await;
    let last_exp = first_claims["exp"].as_i64().expect("exp");
    let keys = env.app.store.signing_keys(wxauth::clock::unix_now()).await.expect("keys");
    let retired = keys.iter().find(|k| k.kid == es256_kid).expect("still published");
    let until = retired.expires_at.expect("retired");
    assert!(until >= last_exp, "published until {until}, its last token expires at {last_exp}");
    let published_at = |t: i64| {
        let env = &env;
        let kid = es256_kid.clone();
        async move { env.app.store.signing_keys(t).await.expect("keys").iter().any(|k| k.kid == kid) }
    };
    assert!(published_at(last_exp).await, "published while its tokens live");
    assert!(!published_at(until).await, "gone once they have all expired");
}

//! The token endpoint's `authorization_code` grant: a code is redeemed once, by its client,
//! with its PKCE verifier and its redirect URI; a replay revokes what the code issued. Getting
//! the code (the sign-in page) is in authorize.rs.

use wxauth_tests::{
    PKCE_VERIFIER, Reply, TestEnv, approve, code_for, code_request, exchange, location_params, open_sign_in,
};

/// The authorization request of these tests' web clients.
fn authorize_query(client_id: &str) -> Vec<(&str, &str)> {
    code_request(client_id, "openid", "xyz 123")
}

/// [`exchange`] without the `redirect_uri` parameter.
async fn exchange_without_redirect_uri(env: &TestEnv, client_id: &str, code: &str) -> Reply {
    env.token(&[
        ("grant_type", "authorization_code"),
        ("client_id", client_id),
        ("code", code),
        ("code_verifier", PKCE_VERIFIER),
    ])
    .await
}

#[tokio::test]
async fn a_code_needs_its_verifier_its_redirect_uri_and_its_client() {
    let env = TestEnv::new().await;
    let web = env.web_client(&[], "openid profile").await;
    let other = env.web_client(&[], "openid profile").await;
    env.password_user("carol", "carol's password").await;
    let code = code_for(&env, &authorize_query(&web), "carol", "carol's password").await;
    let wrong_verifier = exchange(&env, &web, &code, &PKCE_VERIFIER.replace('d', "e")).await;
    assert_eq!((wrong_verifier.status, wrong_verifier.error()), (400, "invalid_grant"));
    let wrong_redirect = env
        .token(&[
            ("grant_type", "authorization_code"),
            ("client_id", &web),
            ("code", &code),
            ("redirect_uri", "https://app.example/other"),
            ("code_verifier", PKCE_VERIFIER),
        ])
        .await;
    assert_eq!((wrong_redirect.status, wrong_redirect.error()), (400, "invalid_grant"));
    let wrong_client = exchange(&env, &other, &code, PKCE_VERIFIER).await;
    assert_eq!((wrong_client.status, wrong_client.error()), (400, "invalid_grant"));
    assert_eq!(exchange(&env, &web, &code, PKCE_VERIFIER).await.status, 200, "failed attempts did not spend the code");
}

#[tokio::test]
async fn a_replayed_code_revokes_every_token_it_issued() {
    let env = TestEnv::new().await;
    let web = env.web_client(&[], "openid profile").await;
    env.password_user("dave", "dave's password").await;
    let code = code_for(&env, &authorize_query(&web), "dave", "dave's password").await;
    let first = exchange(&env, &web, &code, PKCE_VERIFIER).await;
    assert_eq!(first.status, 200);
    let replay = exchange(&env, &web, &code, PKCE_VERIFIER).await;
    assert_eq!((replay.status, replay.error()), (400, "invalid_grant"));
    let refresh = env.refresh(&web, first.str("refresh_token")).await;
    assert_eq!((refresh.status, refresh.error()), (400, "invalid_grant"), "the refresh token is revoked");
    let info = env.protected("GET", "/userinfo", first.str("access_token"), None).await;
    assert_eq!(info.status, 401, "the access token is revoked");
}

#[tokio::test]
async fn another_client_replaying_a_used_code_revokes_nothing() {
    let env = TestEnv::new().await;
    let web = env.web_client(&[], "openid profile").await;
    let other = env.web_client(&[], "openid profile").await;
    env.password_user("ivy", "ivy's password").await;
    let code = code_for(&env, &authorize_query(&web), "ivy", "ivy's password").await;
    let tokens = exchange(&env, &web, &code, PKCE_VERIFIER).await;
    assert_eq!(tokens.status, 200);
    let leaked = exchange(&env, &other, &code, PKCE_VERIFIER).await;
    assert_eq!((leaked.status, leaked.error()), (400, "invalid_grant"));
    assert_eq!(env.refresh(&web, tokens.str("refresh_token")).await.status, 200, "the user's tokens live on");
}

#[tokio::test]
async fn redirect_uri_is_required_at_the_token_endpoint_exactly_when_the_request_named_it() {
    let env = TestEnv::new().await;
    let web = env.web_client(&[], "openid profile").await;
    env.password_user("jill", "jill's password").await;
    let named = code_for(&env, &authorize_query(&web), "jill", "jill's password").await;
    let without = exchange_without_redirect_uri(&env, &web, &named).await;
    assert_eq!((without.status, without.error()), (400, "invalid_grant"));

    let query: Vec<_> = authorize_query(&web).into_iter().filter(|(k, _)| *k != "redirect_uri").collect();
    let page = open_sign_in(&env, &query).await.expect("page: the client's only redirect URI applies");
    let res = approve(&env, &page, "jill", "jill's password").await;
    let code = location_params(&res).get("code").expect("code").clone();
    let tokens = exchange_without_redirect_uri(&env, &web, &code).await;
    assert_eq!(tokens.status, 200, "{}", tokens.json);
}

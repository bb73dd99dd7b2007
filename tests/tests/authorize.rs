//! The authorization endpoint as a browser meets it: the sign-in page (its headers, the form
//! bound to the browser, a wrong password, denial), the authorization request's checks (client,
//! redirect URI, PKCE, response type and mode), and the code flow end to end from it. Its
//! OpenID Connect parameters are in openid.rs; redeeming the code in authorization_code.rs.

use wxauth_tests::{
    PKCE_VERIFIER, REDIRECT_URI, TestEnv, approval, approve, code_for, code_request, exchange, location_params,
    open_sign_in, sign_in_page_request, submit_sign_in,
};

/// The authorization request of these tests' web clients.
fn authorize_query(client_id: &str) -> Vec<(&str, &str)> {
    code_request(client_id, "openid", "xyz 123")
}

#[tokio::test]
async fn the_code_flow_signs_in_redirects_and_exchanges_the_code_with_pkce() {
    let env = TestEnv::new().await;
    let web = env.web_client(&[], "openid profile").await;
    let user_id = env.password_user("alice", "correct horse battery").await;
    let page = open_sign_in(&env, &authorize_query(&web)).await.expect("page");
    assert!(page.html.contains("Test public"), "the page names the client");
    let code = code_for(&env, &authorize_query(&web), "alice", "correct horse battery").await;
    let tokens = exchange(&env, &web, &code, PKCE_VERIFIER).await;
    assert_eq!(tokens.status, 200, "{}", tokens.json);
    assert_eq!(tokens.str("scope"), "openid");
    assert!(tokens.json["refresh_token"].is_string());
    let (_, claims) = env.verify_with_jwks(tokens.str("access_token")).await;
    assert_eq!(claims["sub"], user_id.as_str());
    let info = env.protected("GET", "/userinfo", tokens.str("access_token"), None).await;
    assert_eq!(info.json["sub"].as_str(), Some(user_id.as_str()));
    assert!(info.json.get("username").is_none(), "the username needs the profile scope: {}", info.json);
    let refreshed = env.refresh(&web, tokens.str("refresh_token")).await;
    assert_eq!(refreshed.status, 200);
}

#[tokio::test]
async fn the_sign_in_page_is_protected_against_framing_and_caching() {
    let env = TestEnv::new().await;
    let web = env.web_client(&[], "openid profile").await;
    let res = env.dispatch(sign_in_page_request(&authorize_query(&web))).await;
    assert_eq!(res.status(), 200);
    let h = |name: &str| res.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    assert_eq!(h("x-frame-options"), "DENY");
    assert!(h("content-security-policy").contains("frame-ancestors 'none'"));
    assert_eq!(h("cache-control"), "no-store");
    let cookie = h("set-cookie");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
}

#[tokio::test]
async fn a_wrong_password_shows_the_page_again_and_the_right_one_then_works() {
    let env = TestEnv::new().await;
    let web = env.web_client(&[], "openid profile").await;
    env.password_user("bob", "the right password").await;
    let page = open_sign_in(&env, &authorize_query(&web)).await.expect("page");
    let wrong = approve(&env, &page, "bob", "nope-nope").await;
    assert_eq!(wrong.status(), 200);
    assert!(String::from_utf8_lossy(wrong.body().as_ref()).contains("Wrong username or password"));
    let right = approve(&env, &page, "bob", "the right password").await;
    assert!(location_params(&right).contains_key("code"));
}

#[tokio::test]
async fn denying_redirects_with_access_denied_and_the_state() {
    let env = TestEnv::new().await;
    let web = env.web_client(&[], "openid profile").await;
    let page = open_sign_in(&env, &authorize_query(&web)).await.expect("page");
    let res = submit_sign_in(&env, &page, &[("decision", "deny")], true).await;
    let params = location_params(&res);
    assert_eq!(params.get("error").map(String::as_str), Some("access_denied"));
    assert_eq!(params.get("state").map(String::as_str), Some("xyz 123"));
}

#[tokio::test]
async fn an_unknown_client_or_redirect_uri_never_redirects() {
    let env = TestEnv::new().await;
    let web = env.web_client(&[], "openid profile").await;
    let mut unknown = authorize_query(&web);
    unknown[1] = ("client_id", "nobody");
    let mut foreign = authorize_query(&web);
    foreign[2] = ("redirect_uri", "https://evil.example/steal");
    for query in [unknown, foreign] {
        let res = open_sign_in(&env, &query).await.expect_err("an error page");
        assert_eq!(res.status(), 400);
        assert!(res.headers().get("location").is_none(), "no redirect");
    }
}

#[tokio::test]
async fn pkce_is_required_and_only_s256() {
    let env = TestEnv::new().await;
    let web = env.web_client(&[], "openid profile").await;
    for drop in ["code_challenge", "code_challenge_method"] {
        let query: Vec<_> = authorize_query(&web).into_iter().filter(|(k, _)| *k != drop).collect();
        let res = open_sign_in(&env, &query).await.expect_err("refused");
        assert_eq!(location_params(&res).get("error").map(String::as_str), Some("invalid_request"), "without {drop}");
    }
    let mut plain = authorize_query(&web);
    plain[6] = ("code_challenge_method", "plain");
    let res = open_sign_in(&env, &plain).await.expect_err("refused");
    assert_eq!(location_params(&res).get("error").map(String::as_str), Some("invalid_request"));
}

#[tokio::test]
async fn the_form_is_bound_to_the_browser_and_answers_once() {
    let env = TestEnv::new().await;
    let web = env.web_client(&[], "openid profile").await;
    env.password_user("erin", "erin's password").await;
    let page = open_sign_in(&env, &authorize_query(&web)).await.expect("page");
    let fields = approval("erin", "erin's password");
    let forged = submit_sign_in(&env, &page, &fields, false).await;
    assert_eq!(forged.status(), 400, "no cookie: a cross-site post");
    assert!(forged.headers().get("location").is_none());
    let ok = submit_sign_in(&env, &page, &fields, true).await;
    assert_eq!(ok.status(), 302);
    let again = submit_sign_in(&env, &page, &fields, true).await;
    assert_eq!(again.status(), 400, "a sign-in request answers once");
}

#[tokio::test]
async fn implicit_is_only_for_clients_registered_for_it() {
    let env = TestEnv::new().await;
    env.password_user("fred", "fred's password").await;
    let not_registered = env.web_client(&[], "openid profile").await;
    fn query(client_id: &str) -> Vec<(&str, &str)> {
        vec![("response_type", "token"), ("client_id", client_id), ("redirect_uri", REDIRECT_URI), ("state", "s")]
    }
    let res = open_sign_in(&env, &query(&not_registered)).await.expect_err("refused");
    assert_eq!(location_params(&res).get("error").map(String::as_str), Some("unsupported_response_type"));

    let registered = env.web_client(&["implicit"], "openid profile").await;
    let page = open_sign_in(&env, &query(&registered)).await.expect("page");
    let res = approve(&env, &page, "fred", "fred's password").await;
    let location = res.headers().get("location").and_then(|v| v.to_str().ok()).expect("location").to_string();
    assert!(location.starts_with(&format!("{REDIRECT_URI}#access_token=")), "{location}");
    let params = location_params(&res);
    env.verify_with_jwks(&params["access_token"]).await;
    assert!(!params.contains_key("refresh_token"));
}

#[tokio::test]
async fn concurrent_sign_ins_on_the_page_each_get_their_code() {
    let env = TestEnv::new().await;
    let web = env.web_client(&[], "openid profile").await;
    env.password_user("ines", "ines's password").await;
    // Five browsers, five sign-in requests, posted at once.
    let mut pages = Vec::new();
    for _ in 0..5 {
        pages.push(open_sign_in(&env, &authorize_query(&web)).await.expect("page"));
    }
    let fields = approval("ines", "ines's password");
    let posts = pages.iter().map(|page| submit_sign_in(&env, page, &fields, true));
    for res in futures::future::join_all(posts).await {
        assert!(location_params(&res).contains_key("code"), "every right password gets its code");
    }
}

#[tokio::test]
async fn an_oversized_client_id_on_the_sign_in_page_is_an_error_page_not_a_500() {
    let env = TestEnv::new().await;
    let web = env.web_client(&[], "openid profile").await;
    let long = "x".repeat(5000);
    let mut query = authorize_query(&web);
    query[1] = ("client_id", long.as_str());
    let res = open_sign_in(&env, &query).await.expect_err("refused");
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn a_client_removed_while_the_page_was_open_gets_nothing() {
    let env = TestEnv::new().await;
    let web = env.web_client(&[], "openid profile").await;
    env.password_user("hugo", "hugo's password").await;
    let page = open_sign_in(&env, &authorize_query(&web)).await.expect("page");
    env.app.store.delete_client(&web).await.expect("delete");
    let res = approve(&env, &page, "hugo", "hugo's password").await;
    assert_eq!(res.status(), 400, "an error page");
    assert!(res.headers().get("location").is_none(), "no code is sent anywhere");
}

#[tokio::test]
async fn a_response_mode_that_would_put_a_token_in_the_query_is_refused() {
    let env = TestEnv::new().await;
    let web = env.web_client(&["implicit"], "openid profile").await;
    let query = [
        ("response_type", "token"),
        ("client_id", web.as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("response_mode", "query"),
    ];
    let res = open_sign_in(&env, &query).await.expect_err("refused");
    let location = res.headers().get("location").and_then(|v| v.to_str().ok()).expect("location").to_string();
    assert!(location.starts_with(&format!("{REDIRECT_URI}#error=invalid_request")), "{location}");
}

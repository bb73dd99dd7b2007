//! The browser session and remembered consent at `/oauth/authorize` (OpenID Connect Core
//! §3.1.2.1): a second request answered without a page, `prompt`, `max_age`, `id_token_hint`,
//! consent per client, and what must never happen (a fixed cookie, a session read past its
//! expiry, a consent page answered from another session); and its end at `/oauth/end_session`
//! (RP-Initiated Logout 1.0).

use serde_json::Value;
use wxauth::secret::hash;
use wxauth::store::{browser_sessions, consents};
use wxauth_tests::browser::{Browser, SESSION_COOKIE, end_session, set_session_cookie};
use wxauth_tests::sign_in::{PKCE_VERIFIER, code_request, exchange, location_params, read_sign_in_page};
use wxauth_tests::{POST_LOGOUT_REDIRECT_URI, Reply, TestEnv, form_request, hidden_field};

const SCOPE: &str = "openid profile";

fn id_claims(tokens: &Reply) -> Value {
    jsonwebtoken::dangerous::insecure_decode::<Value>(tokens.str("id_token")).expect("id token").claims
}

async fn id_token_of(env: &TestEnv, client_id: &str, code: &str) -> Reply {
    let tokens = exchange(env, client_id, code, PKCE_VERIFIER).await;
    assert_eq!(tokens.status, 200, "{}", tokens.json);
    tokens
}

fn with<'a>(mut query: Vec<(&'a str, &'a str)>, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    query.extend_from_slice(extra);
    query
}

/// A user signed in to a new web client in a new browser.
async fn signed_in(env: &TestEnv, username: &str) -> (Browser, String, Reply) {
    env.password_user(username, "correct horse").await;
    let client_id = env.web_client(&["authorization_code", "refresh_token"], &format!("{SCOPE} offline_access")).await;
    let mut browser = Browser::default();
    let code = browser.sign_in(env, &code_request(&client_id, SCOPE, "s1"), username, "correct horse").await;
    let tokens = id_token_of(env, &client_id, &code).await;
    (browser, client_id, tokens)
}

#[tokio::test]
async fn a_second_request_in_the_session_is_answered_without_a_page_with_the_same_sub_auth_time_and_sid() {
    let env = TestEnv::new().await;
    let (browser, client_id, first) = signed_in(&env, "sess-ann").await;
    let first = id_claims(&first);
    assert!(first["sid"].as_str().is_some_and(|sid| !sid.is_empty()), "{first}");
    assert_eq!(first["amr"], serde_json::json!(["pwd"]));
    assert!(browser.session.as_ref().is_some_and(|v| v.len() == 43), "a 256-bit cookie value");

    for extra in [vec![], vec![("prompt", "none")], vec![("max_age", "3600")]] {
        let query = with(code_request(&client_id, SCOPE, "s2"), &extra);
        let code = browser.silent_code(&env, &query).await;
        let again = id_claims(&id_token_of(&env, &client_id, &code).await);
        for claim in ["sub", "auth_time", "sid", "amr"] {
            assert_eq!(again[claim], first[claim], "{claim} with {extra:?}");
        }
    }
}

#[tokio::test]
async fn refresh_keeps_the_sessions_sid_and_auth_time() {
    let env = TestEnv::new().await;
    let (_, client_id, first) = signed_in(&env, "sess-ben").await;
    let refreshed = env.refresh(&client_id, first.str("refresh_token")).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.json);
    let (first, refreshed) = (id_claims(&first), id_claims(&refreshed));
    for claim in ["sub", "auth_time", "sid", "amr"] {
        assert_eq!(refreshed[claim], first[claim], "{claim}");
    }
}

#[tokio::test]
async fn prompt_login_max_age_and_a_hint_for_someone_else_ask_for_a_sign_in_and_none_says_login_required() {
    let env = TestEnv::new().await;
    let (browser, client_id, first) = signed_in(&env, "sess-cat").await;
    // Another user's ID token, from another browser.
    env.password_user("sess-cid", "correct horse").await;
    let other_code =
        Browser::default().sign_in(&env, &code_request(&client_id, SCOPE, "o"), "sess-cid", "correct horse").await;
    let other = id_token_of(&env, &client_id, &other_code).await;
    let hint_of_other = other.str("id_token");

    for extra in [vec![("prompt", "login")], vec![("max_age", "0")], vec![("id_token_hint", hint_of_other)]] {
        let query = with(code_request(&client_id, SCOPE, "s"), &extra);
        let page = read_sign_in_page(browser.authorize(&env, &query).await).expect("a page");
        assert!(page.html.contains("type=\"password\""), "{extra:?}: a sign-in page");
        if extra[0].0 != "prompt" {
            let silent = with(query, &[("prompt", "none")]);
            let params = location_params(&browser.authorize(&env, &silent).await);
            assert_eq!(params.get("error").map(String::as_str), Some("login_required"), "{extra:?}");
            assert_eq!(params.get("state").map(String::as_str), Some("s"));
        }
    }
    // The session's own user's hint, expired or not, is no reason to ask.
    let own =
        with(code_request(&client_id, SCOPE, "s"), &[("prompt", "none"), ("id_token_hint", first.str("id_token"))]);
    browser.silent_code(&env, &own).await;
    // A hint that is not an ID token of ours is a bad request, not a sign-in.
    let forged = with(code_request(&client_id, SCOPE, "s"), &[("id_token_hint", "eyJhbGciOiJub25lIn0.e30.")]);
    let params = location_params(&browser.authorize(&env, &forged).await);
    assert_eq!(params.get("error").map(String::as_str), Some("invalid_request"));
}

#[tokio::test]
async fn a_second_client_asks_only_for_consent_once_and_prompt_none_says_consent_required_before() {
    let env = TestEnv::new().await;
    let (mut browser, _, first) = signed_in(&env, "sess-dan").await;
    let second = env.web_client(&[], SCOPE).await;
    let query = code_request(&second, SCOPE, "b");

    let silent = with(query.clone(), &[("prompt", "none")]);
    let params = location_params(&browser.authorize(&env, &silent).await);
    assert_eq!(params.get("error").map(String::as_str), Some("consent_required"));

    let page = read_sign_in_page(browser.authorize(&env, &query).await).expect("the consent page");
    assert!(!page.html.contains("type=\"password\""), "no password asked: {}", page.html);
    assert!(page.html.contains("sess-dan"), "names the signed-in user: {}", page.html);
    let res = browser.submit(&env, &page, &[("decision", "approve")]).await;
    assert!(set_session_cookie(&res).is_none(), "consent keeps the session");
    let code = location_params(&res).get("code").expect("a code").clone();
    let tokens = id_token_of(&env, &second, &code).await;
    assert_eq!(id_claims(&tokens)["sid"], id_claims(&first)["sid"], "one session, one sid for every client");

    browser.silent_code(&env, &silent).await;
    // prompt=consent asks again; a wider scope too (the client may have profile only if allowed).
    let page = read_sign_in_page(browser.authorize(&env, &with(query, &[("prompt", "consent")])).await);
    assert!(page.is_ok_and(|p| !p.html.contains("type=\"password\"")), "the consent page again");
}

#[tokio::test]
async fn a_consent_page_answered_without_its_session_is_refused() {
    let env = TestEnv::new().await;
    let (browser, _, _) = signed_in(&env, "sess-eve").await;
    let second = env.web_client(&[], SCOPE).await;
    let page = read_sign_in_page(browser.authorize(&env, &code_request(&second, SCOPE, "e")).await).expect("consent");
    // The request id and CSRF token alone (a stolen page) do not stand in for the session.
    let res = Browser::default().submit(&env, &page, &[("decision", "approve")]).await;
    assert_eq!(res.status(), 400, "an error page, no redirect");
    assert!(res.headers().get("location").is_none());
}

#[tokio::test]
async fn a_cookie_set_before_the_sign_in_is_replaced_and_never_signs_anybody_in() {
    let env = TestEnv::new().await;
    env.password_user("sess-fay", "correct horse").await;
    let client_id = env.web_client(&[], SCOPE).await;
    let planted = "A".repeat(43);
    let mut browser = Browser { session: Some(planted.clone()) };
    let code = browser.sign_in(&env, &code_request(&client_id, SCOPE, "f"), "sess-fay", "correct horse").await;
    id_token_of(&env, &client_id, &code).await;
    assert_ne!(browser.session.as_deref(), Some(planted.as_str()), "a new value on sign-in");
    let attacker = Browser { session: Some(planted) };
    let silent = with(code_request(&client_id, SCOPE, "f"), &[("prompt", "none")]);
    let params = location_params(&attacker.authorize(&env, &silent).await);
    assert_eq!(params.get("error").map(String::as_str), Some("login_required"));
}

#[tokio::test]
async fn an_expired_session_or_consent_counts_as_none_before_ttl_deletes_it() {
    let env = TestEnv::new().await;
    let (browser, client_id, first) = signed_in(&env, "sess-gus").await;
    let silent = with(code_request(&client_id, SCOPE, "g"), &[("prompt", "none")]);
    browser.silent_code(&env, &silent).await;

    let user_id = id_claims(&first)["sub"].as_str().expect("sub").to_string();
    env.expire_item(&consents::key(&user_id, &client_id)).await;
    let params = location_params(&browser.authorize(&env, &silent).await);
    assert_eq!(params.get("error").map(String::as_str), Some("consent_required"));

    let session = browser.session.as_deref().expect("a session");
    env.expire_item(&browser_sessions::key(&hash(session))).await;
    assert!(env.raw_item(&browser_sessions::key(&hash(session))).await.is_some(), "still stored");
    let params = location_params(&browser.authorize(&env, &silent).await);
    assert_eq!(params.get("error").map(String::as_str), Some("login_required"));
}

#[tokio::test]
async fn two_tabs_signing_in_at_once_each_get_a_session_and_a_code() {
    let env = TestEnv::new().await;
    env.password_user("sess-hal", "correct horse").await;
    let client_id = env.web_client(&[], SCOPE).await;
    let query = code_request(&client_id, SCOPE, "h");
    let (mut one, mut two) = (Browser::default(), Browser::default());
    let (a, b) = tokio::join!(
        one.sign_in(&env, &query, "sess-hal", "correct horse"),
        two.sign_in(&env, &query, "sess-hal", "correct horse")
    );
    let (a, b) = (id_token_of(&env, &client_id, &a).await, id_token_of(&env, &client_id, &b).await);
    assert_ne!(id_claims(&a)["sid"], id_claims(&b)["sid"], "two sign-ins, two sessions");
    assert_ne!(one.session, two.session);
    let silent = with(query.clone(), &[("prompt", "none")]);
    one.silent_code(&env, &silent).await;
    two.silent_code(&env, &silent).await;
}

// ---- RP-Initiated Logout (/oauth/end_session) ----------------------------------------------------

/// `GET /oauth/end_session?<query>` from `browser`.
fn html(res: &wxauth::http::Response) -> String {
    String::from_utf8_lossy(res.body().as_ref()).into_owned()
}

fn clears_the_session_cookie(res: &wxauth::http::Response) -> bool {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.starts_with(&format!("{SESSION_COOKIE}=;")) && v.contains("Max-Age=0"))
}

/// A user signed in to a client that registered [`POST_LOGOUT_REDIRECT_URI`]: the browser, the
/// client and the tokens.
async fn signed_in_for_logout(env: &TestEnv, username: &str) -> (Browser, String, Reply) {
    env.password_user(username, "correct horse").await;
    let client_id = env.web_client_with_logout().await;
    let mut browser = Browser::default();
    let code = browser.sign_in(env, &code_request(&client_id, "openid", "l"), username, "correct horse").await;
    let tokens = id_token_of(env, &client_id, &code).await;
    (browser, client_id, tokens)
}

#[tokio::test]
async fn logout_with_a_hint_ends_the_session_and_its_families_and_redirects_with_state() {
    let env = TestEnv::new().await;
    let (browser, client_id, tokens) = signed_in_for_logout(&env, "out-ada").await;
    let query = [
        ("id_token_hint", tokens.str("id_token")),
        ("post_logout_redirect_uri", POST_LOGOUT_REDIRECT_URI),
        ("state", "bye now"),
    ];
    let res = end_session(&env, &browser, &query).await;
    assert_eq!(res.status(), 302, "{}", html(&res));
    let location = res.headers().get("location").and_then(|v| v.to_str().ok()).expect("Location");
    assert_eq!(location, format!("{POST_LOGOUT_REDIRECT_URI}?state=bye+now"));
    assert!(clears_the_session_cookie(&res), "the cookie is cleared");

    let silent = with(code_request(&client_id, "openid", "l"), &[("prompt", "none")]);
    let params = location_params(&browser.authorize(&env, &silent).await);
    assert_eq!(params.get("error").map(String::as_str), Some("login_required"), "the old cookie counts no more");
    let refreshed = env.refresh(&client_id, tokens.str("refresh_token")).await;
    assert_eq!((refreshed.status, refreshed.error()), (400, "invalid_grant"), "the session's family ended");
}

#[tokio::test]
async fn a_grant_with_offline_access_outlives_the_session() {
    let env = TestEnv::new().await;
    env.password_user("out-bo", "correct horse").await;
    let client_id = env.web_client(&["authorization_code", "refresh_token"], "openid offline_access").await;
    let mut browser = Browser::default();
    let code =
        browser.sign_in(&env, &code_request(&client_id, "openid offline_access", "o"), "out-bo", "correct horse").await;
    let tokens = id_token_of(&env, &client_id, &code).await;
    let res = end_session(&env, &browser, &[("id_token_hint", tokens.str("id_token"))]).await;
    assert_eq!(res.status(), 200, "the signed-out page");
    assert!(clears_the_session_cookie(&res));
    let refreshed = env.refresh(&client_id, tokens.str("refresh_token")).await;
    assert_eq!(refreshed.status, 200, "offline_access: {}", refreshed.json);
}

#[tokio::test]
async fn logout_without_a_hint_asks_first_and_its_confirmation_needs_this_browsers_csrf_cookie() {
    let env = TestEnv::new().await;
    let (browser, client_id, _) = signed_in_for_logout(&env, "out-cy").await;
    let query =
        [("client_id", client_id.as_str()), ("post_logout_redirect_uri", POST_LOGOUT_REDIRECT_URI), ("state", "s")];
    let page = end_session(&env, &browser, &query).await;
    assert_eq!(page.status(), 200);
    assert!(page.headers().get("location").is_none() && !clears_the_session_cookie(&page), "only a question");
    let body = html(&page);
    assert!(body.contains("name=\"confirm\"") && body.contains("Test web app"), "{body}");
    let csrf_cookie = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("wxauth_logout_csrf="))
        .and_then(|v| v.split(';').next())
        .expect("a CSRF cookie")
        .to_string();
    let fields = [
        ("csrf_token", hidden_field(&body, "csrf_token")),
        ("client_id", hidden_field(&body, "client_id")),
        ("post_logout_redirect_uri", hidden_field(&body, "post_logout_redirect_uri")),
        ("state", hidden_field(&body, "state")),
        ("confirm", "yes".to_string()),
    ];
    let session = format!("{SESSION_COOKIE}={}", browser.session.as_deref().expect("session"));
    let post = |cookies: String| {
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut req = form_request("/oauth/end_session", &fields);
        req.headers_mut().insert("cookie", cookies.parse().expect("cookie"));
        req
    };
    // Posted from elsewhere (no CSRF cookie): asked again, still signed in.
    let forged = env.dispatch(post(session.clone())).await;
    assert_eq!(forged.status(), 200);
    assert!(!clears_the_session_cookie(&forged) && html(&forged).contains("name=\"confirm\""));
    let silent = with(code_request(&client_id, "openid", "c"), &[("prompt", "none")]);
    browser.silent_code(&env, &silent).await;

    let confirmed = env.dispatch(post(format!("{csrf_cookie}; {session}"))).await;
    assert_eq!(confirmed.status(), 302, "{}", html(&confirmed));
    assert!(clears_the_session_cookie(&confirmed));
    let location = confirmed.headers().get("location").and_then(|v| v.to_str().ok()).expect("Location");
    assert_eq!(location, format!("{POST_LOGOUT_REDIRECT_URI}?state=s"));
    let params = location_params(&browser.authorize(&env, &silent).await);
    assert_eq!(params.get("error").map(String::as_str), Some("login_required"));
}

#[tokio::test]
async fn a_bad_logout_request_never_redirects() {
    let env = TestEnv::new().await;
    let (browser, client_id, tokens) = signed_in_for_logout(&env, "out-dee").await;
    let other_client = env.web_client_with_logout().await;
    let hint = tokens.str("id_token");
    let added_query = format!("{POST_LOGOUT_REDIRECT_URI}?x=1");
    let cases: [Vec<(&str, &str)>; 5] = [
        vec![("id_token_hint", hint), ("post_logout_redirect_uri", "https://evil.example/")],
        vec![("id_token_hint", hint), ("post_logout_redirect_uri", added_query.as_str())],
        vec![
            ("id_token_hint", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."),
            ("post_logout_redirect_uri", POST_LOGOUT_REDIRECT_URI),
        ],
        vec![("id_token_hint", hint), ("client_id", other_client.as_str())],
        vec![("post_logout_redirect_uri", POST_LOGOUT_REDIRECT_URI)],
    ];
    for query in cases {
        let res = end_session(&env, &browser, &query).await;
        assert_eq!(res.status(), 400, "{query:?}");
        assert!(res.headers().get("location").is_none() && !clears_the_session_cookie(&res), "{query:?}");
    }
    let silent = with(code_request(&client_id, "openid", "d"), &[("prompt", "none")]);
    browser.silent_code(&env, &silent).await;
}

#[tokio::test]
async fn without_a_session_a_registered_redirect_is_still_honoured() {
    let env = TestEnv::new().await;
    let client_id = env.web_client_with_logout().await;
    let query = [("client_id", client_id.as_str()), ("post_logout_redirect_uri", POST_LOGOUT_REDIRECT_URI)];
    let res = end_session(&env, &Browser::default(), &query).await;
    assert_eq!(res.status(), 302);
    assert_eq!(res.headers().get("location").and_then(|v| v.to_str().ok()), Some(POST_LOGOUT_REDIRECT_URI));
    let bare = end_session(&env, &Browser::default(), &[]).await;
    assert_eq!(bare.status(), 200, "the signed-out page");
    assert!(html(&bare).contains("You are signed out"), "{}", html(&bare));
}

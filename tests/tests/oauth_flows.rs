//! The web flows: authorization code + PKCE through the sign-in page, client credentials,
//! password, revocation and introspection.

use lambda_http::Body;
use wxauth::store::clients::ClientKind;
use wxauth_tests::{
    PKCE_CHALLENGE, PKCE_VERIFIER, Reply, TestEnv, form_request, location_params, open_sign_in, raw_request,
    submit_sign_in,
};

const REDIRECT: &str = "https://app.example/callback";

struct Web {
    client_id: String,
}

async fn web_client(env: &TestEnv, grants: &[&str]) -> Web {
    let (client_id, _) = env.client(ClientKind::Public, grants, &[REDIRECT], "openid profile", None).await;
    Web { client_id }
}

fn authorize_query(web: &Web) -> Vec<(&str, &str)> {
    vec![
        ("response_type", "code"),
        ("client_id", web.client_id.as_str()),
        ("redirect_uri", REDIRECT),
        ("scope", "openid"),
        ("state", "xyz 123"),
        ("code_challenge", PKCE_CHALLENGE),
        ("code_challenge_method", "S256"),
    ]
}

/// Signs `username` in through the page and returns the code.
async fn code_for(env: &TestEnv, web: &Web, username: &str, password: &str) -> String {
    let page = open_sign_in(env, &authorize_query(web)).await.expect("the sign-in page");
    let res =
        submit_sign_in(env, &page, &[("username", username), ("password", password), ("decision", "approve")], true)
            .await;
    let params = location_params(&res);
    assert_eq!(params.get("state").map(String::as_str), Some("xyz 123"));
    assert_eq!(params.get("iss").map(String::as_str), Some(wxauth_tests::ISSUER));
    params.get("code").expect("a code").clone()
}

async fn exchange(env: &TestEnv, web: &Web, code: &str, verifier: &str) -> Reply {
    env.token(&[
        ("grant_type", "authorization_code"),
        ("client_id", &web.client_id),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier),
    ])
    .await
}

#[tokio::test]
async fn the_code_flow_signs_in_redirects_and_exchanges_the_code_with_pkce() {
    let env = TestEnv::new().await;
    let web = web_client(&env, &[]).await;
    let user_id = env.password_user("alice", "correct horse battery").await;
    let page = open_sign_in(&env, &authorize_query(&web)).await.expect("page");
    assert!(page.html.contains("Test public"), "the page names the client");
    let code = code_for(&env, &web, "alice", "correct horse battery").await;
    let tokens = exchange(&env, &web, &code, PKCE_VERIFIER).await;
    assert_eq!(tokens.status, 200, "{}", tokens.json);
    assert_eq!(tokens.str("scope"), "openid");
    assert!(tokens.json["refresh_token"].is_string());
    let (_, claims) = env.verify_with_jwks(tokens.str("access_token")).await;
    assert_eq!(claims["sub"], user_id.as_str());
    let info = env.protected("GET", "/userinfo", tokens.str("access_token"), None).await;
    assert_eq!(info.json["sub"].as_str(), Some(user_id.as_str()));
    assert!(info.json.get("username").is_none(), "the username needs the profile scope: {}", info.json);
    let refreshed = env.refresh(&web.client_id, tokens.str("refresh_token")).await;
    assert_eq!(refreshed.status, 200);
}

#[tokio::test]
async fn the_sign_in_page_is_protected_against_framing_and_caching() {
    let env = TestEnv::new().await;
    let web = web_client(&env, &[]).await;
    let uri = format!("/oauth/authorize?{}", serde_urlencoded::to_string(authorize_query(&web)).expect("q"));
    let res = env.dispatch(raw_request("GET", &uri, None, Body::Empty)).await;
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
    let web = web_client(&env, &[]).await;
    env.password_user("bob", "the right password").await;
    let page = open_sign_in(&env, &authorize_query(&web)).await.expect("page");
    let wrong =
        submit_sign_in(&env, &page, &[("username", "bob"), ("password", "nope-nope"), ("decision", "approve")], true)
            .await;
    assert_eq!(wrong.status(), 200);
    assert!(String::from_utf8_lossy(wrong.body().as_ref()).contains("Wrong username or password"));
    let right = submit_sign_in(
        &env,
        &page,
        &[("username", "bob"), ("password", "the right password"), ("decision", "approve")],
        true,
    )
    .await;
    assert!(location_params(&right).contains_key("code"));
}

#[tokio::test]
async fn denying_redirects_with_access_denied_and_the_state() {
    let env = TestEnv::new().await;
    let web = web_client(&env, &[]).await;
    let page = open_sign_in(&env, &authorize_query(&web)).await.expect("page");
    let res = submit_sign_in(&env, &page, &[("decision", "deny")], true).await;
    let params = location_params(&res);
    assert_eq!(params.get("error").map(String::as_str), Some("access_denied"));
    assert_eq!(params.get("state").map(String::as_str), Some("xyz 123"));
}

#[tokio::test]
async fn an_unknown_client_or_redirect_uri_never_redirects() {
    let env = TestEnv::new().await;
    let web = web_client(&env, &[]).await;
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
    let web = web_client(&env, &[]).await;
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
async fn a_code_needs_its_verifier_its_redirect_uri_and_its_client() {
    let env = TestEnv::new().await;
    let web = web_client(&env, &[]).await;
    let other = web_client(&env, &[]).await;
    env.password_user("carol", "carol's password").await;
    let code = code_for(&env, &web, "carol", "carol's password").await;
    let wrong_verifier = exchange(&env, &web, &code, &PKCE_VERIFIER.replace('d', "e")).await;
    assert_eq!((wrong_verifier.status, wrong_verifier.error()), (400, "invalid_grant"));
    let wrong_redirect = env
        .token(&[
            ("grant_type", "authorization_code"),
            ("client_id", &web.client_id),
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
    let web = web_client(&env, &[]).await;
    env.password_user("dave", "dave's password").await;
    let code = code_for(&env, &web, "dave", "dave's password").await;
    let first = exchange(&env, &web, &code, PKCE_VERIFIER).await;
    assert_eq!(first.status, 200);
    let replay = exchange(&env, &web, &code, PKCE_VERIFIER).await;
    assert_eq!((replay.status, replay.error()), (400, "invalid_grant"));
    let refresh = env.refresh(&web.client_id, first.str("refresh_token")).await;
    assert_eq!((refresh.status, refresh.error()), (400, "invalid_grant"), "the refresh token is revoked");
    let info = env.protected("GET", "/userinfo", first.str("access_token"), None).await;
    assert_eq!(info.status, 401, "the access token is revoked");
}

#[tokio::test]
async fn the_form_is_bound_to_the_browser_and_answers_once() {
    let env = TestEnv::new().await;
    let web = web_client(&env, &[]).await;
    env.password_user("erin", "erin's password").await;
    let page = open_sign_in(&env, &authorize_query(&web)).await.expect("page");
    let fields = [("username", "erin"), ("password", "erin's password"), ("decision", "approve")];
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
    let not_registered = web_client(&env, &[]).await;
    fn query(web: &Web) -> Vec<(&str, &str)> {
        vec![
            ("response_type", "token"),
            ("client_id", web.client_id.as_str()),
            ("redirect_uri", REDIRECT),
            ("state", "s"),
        ]
    }
    let res = open_sign_in(&env, &query(&not_registered)).await.expect_err("refused");
    assert_eq!(location_params(&res).get("error").map(String::as_str), Some("unsupported_response_type"));

    let registered = web_client(&env, &["implicit"]).await;
    let page = open_sign_in(&env, &query(&registered)).await.expect("page");
    let res = submit_sign_in(
        &env,
        &page,
        &[("username", "fred"), ("password", "fred's password"), ("decision", "approve")],
        true,
    )
    .await;
    let location = res.headers().get("location").and_then(|v| v.to_str().ok()).expect("location").to_string();
    assert!(location.starts_with(&format!("{REDIRECT}#access_token=")), "{location}");
    let params = location_params(&res);
    env.verify_with_jwks(&params["access_token"]).await;
    assert!(!params.contains_key("refresh_token"));
}

#[tokio::test]
async fn client_credentials_is_for_confidential_clients_and_issues_no_refresh_token() {
    let env = TestEnv::new().await;
    let (id, secret) = env.client(ClientKind::Confidential, &[], &[], "reports:read reports:write", None).await;
    let secret = secret.expect("a confidential client has a secret");
    let reply = env
        .post_basic("/oauth/token", &id, &secret, &[("grant_type", "client_credentials"), ("scope", "reports:read")])
        .await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    assert!(reply.json.get("refresh_token").is_none());
    let (_, claims) = env.verify_with_jwks(reply.str("access_token")).await;
    assert_eq!(claims["sub"], id.as_str());
    let post = env.token(&[("grant_type", "client_credentials"), ("client_id", &id), ("client_secret", &secret)]).await;
    assert_eq!(post.status, 200, "client_secret_post works too");
    let wider =
        env.post_basic("/oauth/token", &id, &secret, &[("grant_type", "client_credentials"), ("scope", "admin")]).await;
    assert_eq!((wider.status, wider.error()), (400, "invalid_scope"));
    let wrong = env.post_basic("/oauth/token", &id, "wrong-secret", &[("grant_type", "client_credentials")]).await;
    assert_eq!((wrong.status, wrong.error()), (401, "invalid_client"));
    let public = web_client(&env, &["client_credentials"]).await;
    let refused = env.token(&[("grant_type", "client_credentials"), ("client_id", &public.client_id)]).await;
    assert_eq!((refused.status, refused.error()), (400, "unauthorized_client"));
}

#[tokio::test]
async fn the_password_grant_needs_explicit_registration_and_locks_after_repeated_failures() {
    let env = TestEnv::new().await;
    env.password_user("gina", "gina's password").await;
    let (allowed, secret) =
        env.client(ClientKind::Confidential, &["password", "refresh_token"], &[], "openid", None).await;
    let secret = secret.expect("secret");
    let (not_allowed, other_secret) = env.client(ClientKind::Confidential, &[], &[], "openid", None).await;
    let attempt = |password: &'static str| {
        let (env, allowed, secret) = (&env, allowed.clone(), secret.clone());
        async move {
            env.post_basic(
                "/oauth/token",
                &allowed,
                &secret,
                &[("grant_type", "password"), ("username", "Gina"), ("password", password)],
            )
            .await
        }
    };
    let ok = attempt("gina's password").await;
    assert_eq!(ok.status, 200, "usernames are case-insensitive: {}", ok.json);
    assert!(ok.json["refresh_token"].is_string());
    let refused = env
        .post_basic(
            "/oauth/token",
            &not_allowed,
            &other_secret.expect("secret"),
            &[("grant_type", "password"), ("username", "gina"), ("password", "gina's password")],
        )
        .await;
    assert_eq!((refused.status, refused.error()), (400, "unauthorized_client"));

    let unknown = env
        .post_basic(
            "/oauth/token",
            &allowed,
            &secret,
            &[("grant_type", "password"), ("username", "nobody"), ("password", "whatever")],
        )
        .await;
    for _ in 0..wxauth::store::password_failures::MAX_FAILURES {
        let wrong = attempt("not it").await;
        assert_eq!((wrong.status, wrong.error()), (400, "invalid_grant"));
        assert_eq!(wrong.json["error_description"], unknown.json["error_description"], "no user enumeration");
    }
    let locked = attempt("gina's password").await;
    assert_eq!((locked.status, locked.error()), (400, "invalid_grant"), "locked, though the password is right");
    assert_eq!(locked.json["error_description"], unknown.json["error_description"]);

    // The lock runs out (moved into the past, as time would).
    env.expire_item("PWFAIL#gina", "PWFAIL").await;
    assert_eq!(attempt("gina's password").await.status, 200, "unlocked once the lock has expired");
}

/// A confidential client allowed the password grant: id and secret.
async fn password_client(env: &TestEnv) -> (String, String) {
    let (id, secret) = env.client(ClientKind::Confidential, &["password"], &[], "openid", None).await;
    (id, secret.expect("secret"))
}

#[tokio::test]
async fn concurrent_right_passwords_are_never_refused_for_each_other() {
    let env = TestEnv::new().await;
    env.password_user("hana", "hana's password").await;
    let client = password_client(&env).await;
    // More at once than the lockout allows failures: counted before their checks, they used to
    // lock each other out below the limit with no wrong password at all.
    let attempts = (0..8).map(|_| env.password_grant(&client, "hana", "hana's password"));
    let replies = futures::future::join_all(attempts).await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![200; 8], "{:?}", replies.iter().map(|r| &r.json).collect::<Vec<_>>());
    assert_eq!(env.password_grant(&client, "hana", "hana's password").await.status, 200, "not locked after");
}

#[tokio::test]
async fn concurrent_sign_ins_on_the_page_each_get_their_code() {
    let env = TestEnv::new().await;
    let web = web_client(&env, &[]).await;
    env.password_user("ines", "ines's password").await;
    // Five browsers, five sign-in requests, posted at once.
    let mut pages = Vec::new();
    for _ in 0..5 {
        pages.push(open_sign_in(&env, &authorize_query(&web)).await.expect("page"));
    }
    let fields = [("username", "ines"), ("password", "ines's password"), ("decision", "approve")];
    let posts = pages.iter().map(|page| submit_sign_in(&env, page, &fields, true));
    for res in futures::future::join_all(posts).await {
        assert!(location_params(&res).contains_key("code"), "every right password gets its code");
    }
}

#[tokio::test]
async fn a_parallel_guessing_attack_gets_no_more_checks_than_the_lockout_allows() {
    let env = TestEnv::new().await;
    env.password_user("jade", "jade's password").await;
    let client = password_client(&env).await;
    let guesses = (0..20).map(|i| {
        let (env, client) = (&env, &client);
        async move { env.password_grant(client, "jade", &format!("guess {i}")).await }
    });
    for reply in futures::future::join_all(guesses).await {
        assert_eq!((reply.status, reply.error()), (400, "invalid_grant"));
    }
    let counter = env.raw_item("PWFAIL#jade", "PWFAIL").await.expect("a failure counter");
    assert_eq!(
        counter.get("failures").and_then(|v| v.as_n().ok()).map(String::as_str),
        Some(wxauth::store::password_failures::MAX_FAILURES.to_string().as_str()),
        "exactly the allowed checks were made, the rest refused unchecked: {counter:?}"
    );
    let right = env.password_grant(&client, "jade", "jade's password").await;
    assert_eq!((right.status, right.error()), (400, "invalid_grant"), "locked, though the password is right");
}

#[tokio::test]
async fn revocation_ends_refresh_families_and_access_tokens_of_the_client_only() {
    let env = TestEnv::new().await;
    let mp = env.miniprogram().await;
    let login = env.login(&mp, "ok-rev").await;
    let revoke = |client_id: String, token: String| {
        let env = &env;
        async move { env.call(form_request("/oauth/revoke", &[("client_id", &client_id), ("token", &token)])).await }
    };
    let other = env.miniprogram().await;
    let foreign = revoke(other.client_id.clone(), login.str("refresh_token").to_string()).await;
    assert_eq!((foreign.status, foreign.error()), (400, "unauthorized_client"));
    assert_eq!(revoke(mp.client_id.clone(), "never-issued".into()).await.status, 200, "unknown tokens answer 200");

    assert_eq!(revoke(mp.client_id.clone(), login.str("access_token").to_string()).await.status, 200);
    assert_eq!(env.protected("GET", "/userinfo", login.str("access_token"), None).await.status, 401);
    assert_eq!(revoke(mp.client_id.clone(), login.str("refresh_token").to_string()).await.status, 200);
    let refresh = env.refresh(&mp.client_id, login.str("refresh_token")).await;
    assert_eq!((refresh.status, refresh.error()), (400, "invalid_grant"));
}

#[tokio::test]
async fn introspection_answers_confidential_clients_about_their_business_only() {
    let env = TestEnv::new().await;
    const REPORTS: &str = "https://reports.api.example";
    // A resource server for the audience REPORTS, and a client whose tokens are meant for it.
    let (rs, rs_secret) = env.client(ClientKind::Confidential, &[], &[], "", Some(REPORTS)).await;
    let rs_secret = rs_secret.expect("secret");
    let (caller, caller_secret) =
        env.client(ClientKind::Confidential, &["client_credentials"], &[], "reports:read", Some(REPORTS)).await;
    let caller_secret = caller_secret.expect("secret");
    let meant_for_reports =
        env.post_basic("/oauth/token", &caller, &caller_secret, &[("grant_type", "client_credentials")]).await;
    let (stranger, stranger_secret) =
        env.client(ClientKind::Confidential, &[], &[], "", Some("https://other.api")).await;
    let mp = env.miniprogram().await;
    let login = env.login(&mp, "ok-intro").await;
    let introspect = |id: String, secret: String, token: String| {
        let env = &env;
        async move { env.post_basic("/oauth/introspect", &id, &secret, &[("token", &token)]).await }
    };
    let active = introspect(rs.clone(), rs_secret.clone(), meant_for_reports.str("access_token").to_string()).await;
    assert_eq!(active.status, 200);
    assert_eq!(active.json["active"], true, "{}", active.json);
    assert_eq!(active.json["client_id"], caller.as_str());
    assert_eq!(active.json["aud"], REPORTS);
    for field in ["scope", "sub", "token_type", "exp", "iat", "iss", "aud", "jti"] {
        assert!(active.json.get(field).is_some(), "{field}");
    }
    let not_its_business =
        introspect(stranger.clone(), stranger_secret.expect("secret"), login.str("access_token").to_string()).await;
    assert_eq!(not_its_business.json, serde_json::json!({"active": false}));
    let not_meant_for_it = introspect(rs.clone(), rs_secret.clone(), login.str("access_token").to_string()).await;
    assert_eq!(
        not_meant_for_it.json,
        serde_json::json!({"active": false}),
        "a mini program's token is not for REPORTS"
    );

    // A client registered (around the admin's check) with the deployment's default audience is
    // no resource server of every token: it sees only its own.
    for shared in [wxauth_tests::ISSUER, env.app.config.audience.as_str()] {
        let (greedy, greedy_secret) = env.client(ClientKind::Confidential, &[], &[], "", Some(shared)).await;
        let seen = introspect(greedy, greedy_secret.expect("secret"), login.str("access_token").to_string()).await;
        assert_eq!(seen.json, serde_json::json!({"active": false}), "every user's token, seen by {shared}?");
    }
    let malformed = introspect(rs.clone(), rs_secret.clone(), "garbage".into()).await;
    assert_eq!(malformed.json, serde_json::json!({"active": false}));

    let public = env
        .call(form_request("/oauth/introspect", &[("client_id", &mp.client_id), ("token", login.str("access_token"))]))
        .await;
    assert_eq!((public.status, public.error()), (401, "invalid_client"));

    let token = meant_for_reports.str("access_token");
    assert_eq!(env.post_basic("/oauth/revoke", &caller, &caller_secret, &[("token", token)]).await.status, 200);
    let revoked = introspect(rs, rs_secret, token.to_string()).await;
    assert_eq!(revoked.json, serde_json::json!({"active": false}), "revoked");
}

#[tokio::test]
async fn an_oversized_client_id_on_the_sign_in_page_is_an_error_page_not_a_500() {
    let env = TestEnv::new().await;
    let web = web_client(&env, &[]).await;
    let long = "x".repeat(5000);
    let mut query = authorize_query(&web);
    query[1] = ("client_id", long.as_str());
    let res = open_sign_in(&env, &query).await.expect_err("refused");
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn a_client_removed_while_the_page_was_open_gets_nothing() {
    let env = TestEnv::new().await;
    let web = web_client(&env, &[]).await;
    env.password_user("hugo", "hugo's password").await;
    let page = open_sign_in(&env, &authorize_query(&web)).await.expect("page");
    env.app.store.delete_client(&web.client_id).await.expect("delete");
    let res = submit_sign_in(
        &env,
        &page,
        &[("username", "hugo"), ("password", "hugo's password"), ("decision", "approve")],
        true,
    )
    .await;
    assert_eq!(res.status(), 400, "an error page");
    assert!(res.headers().get("location").is_none(), "no code is sent anywhere");
}

#[tokio::test]
async fn a_response_mode_that_would_put_a_token_in_the_query_is_refused() {
    let env = TestEnv::new().await;
    let web = web_client(&env, &["implicit"]).await;
    let query = [
        ("response_type", "token"),
        ("client_id", web.client_id.as_str()),
        ("redirect_uri", REDIRECT),
        ("response_mode", "query"),
    ];
    let res = open_sign_in(&env, &query).await.expect_err("refused");
    let location = res.headers().get("location").and_then(|v| v.to_str().ok()).expect("location").to_string();
    assert!(location.starts_with(&format!("{REDIRECT}#error=invalid_request")), "{location}");
}

#[tokio::test]
async fn another_client_replaying_a_used_code_revokes_nothing() {
    let env = TestEnv::new().await;
    let web = web_client(&env, &[]).await;
    let other = web_client(&env, &[]).await;
    env.password_user("ivy", "ivy's password").await;
    let code = code_for(&env, &web, "ivy", "ivy's password").await;
    let tokens = exchange(&env, &web, &code, PKCE_VERIFIER).await;
    assert_eq!(tokens.status, 200);
    let leaked = exchange(&env, &other, &code, PKCE_VERIFIER).await;
    assert_eq!((leaked.status, leaked.error()), (400, "invalid_grant"));
    assert_eq!(env.refresh(&web.client_id, tokens.str("refresh_token")).await.status, 200, "the user's tokens live on");
}

#[tokio::test]
async fn redirect_uris_must_be_https_or_loopback_and_fragment_free() {
    let env = TestEnv::new().await;
    let data_key = wxauth::keys::data_key::DataKey::new(env.kms.clone(), env.app.config.kms_data_key_id.clone());
    for bad in ["http://app.example/cb", "https://app.example/cb#x", "javascript:alert(1)"] {
        let new = wxauth_provision::NewClient {
            id: "bad-redirect".into(),
            name: String::new(),
            kind: ClientKind::Public,
            grant_types: vec![],
            redirect_uris: vec![bad.into()],
            scope: wxauth::scope::Scope::default(),
            audience: None,
            wechat: None,
        };
        assert!(wxauth_provision::create_client(&env.app.store, &data_key, new, 0).await.is_err(), "{bad}");
    }
}

#[tokio::test]
async fn redirect_uri_is_required_at_the_token_endpoint_exactly_when_the_request_named_it() {
    let env = TestEnv::new().await;
    let web = web_client(&env, &[]).await;
    env.password_user("jill", "jill's password").await;
    let named = code_for(&env, &web, "jill", "jill's password").await;
    let without = env
        .token(&[
            ("grant_type", "authorization_code"),
            ("client_id", &web.client_id),
            ("code", &named),
            ("code_verifier", PKCE_VERIFIER),
        ])
        .await;
    assert_eq!((without.status, without.error()), (400, "invalid_grant"));

    let query: Vec<_> = authorize_query(&web).into_iter().filter(|(k, _)| *k != "redirect_uri").collect();
    let page = open_sign_in(&env, &query).await.expect("page: the client's only redirect URI applies");
    let res = submit_sign_in(
        &env,
        &page,
        &[("username", "jill"), ("password", "jill's password"), ("decision", "approve")],
        true,
    )
    .await;
    let code = location_params(&res).get("code").expect("code").clone();
    let tokens = env
        .token(&[
            ("grant_type", "authorization_code"),
            ("client_id", &web.client_id),
            ("code", &code),
            ("code_verifier", PKCE_VERIFIER),
        ])
        .await;
    assert_eq!(tokens.status, 200, "{}", tokens.json);
}

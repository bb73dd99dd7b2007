//! The IAM policies of template.yaml, held against what the code really does. moto enforces no
//! IAM, so every other test would pass with a policy that is too narrow (the function fails in
//! AWS) or too broad (a compromised function could publish a signing key or rewrite a client).
//!
//! Each test drives one function's flows through its own handler with an [`App`](wxauth::App)
//! whose SDK clients go through a [`FaultProxy`], which records every DynamoDB and KMS request.
//! Setup (clients, users, tokens obtained from other functions) goes through the test's own
//! deployment directly, so the recording holds that one function's requests only. Then
//! [`wxauth_tests::iam`] checks every request against the statements template.yaml grants the
//! function (found by its `BuildProperties.Binary`), and that every grant was used.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Value as Json, json};
use wxauth::domain::client::ClientKind;
use wxauth::domain::wechat_web::WebAppKind;
use wxauth_provision::KeyCustody;
use wxauth_tests::device::{DeviceBrowser, device_authorization, device_codes, interval_passes, poll};
use wxauth_tests::faults::FaultProxy;
use wxauth_tests::iam::{
    LeadingKeys, Policies, WRITE_ACTIONS, assert_policy_matches, assert_policy_matches_with, recorded,
};
use wxauth_tests::relying_party::RelyingParty;
use wxauth_tests::scan::{ScanBrowser, scan_action};
use wxauth_tests::wechat_web::{DESKTOP, IN_WECHAT, Landed, WechatBrowser, wechat_link};
use wxauth_tests::{
    ISSUER, PKCE_VERIFIER, REDIRECT_URI, Server, TestEnv, WECHAT_GRANT, approval, approve, bearer_request, code_for,
    code_request, encrypted_profile, exchange, form_request, location_params, mock_session_key, open_sign_in,
    read_sign_in_page, session_cookie, sign_in_form_request, sign_in_page_request, submit_sign_in,
};

/// Every function the tests below drive; a function added to template.yaml must be added here,
/// with its flows.
const DRIVEN: &[&str] = &[
    "token",
    "authorize",
    "end-session",
    "backchannel-logout",
    "revoke",
    "introspect",
    "jwks",
    "metadata",
    "userinfo",
    "wechat-decrypt",
    "wechat-phone",
    "wechat-session",
    "wechat-scan",
    "device-authorization",
];

// ---- the template on its own -----------------------------------------------------------------------

#[test]
fn every_function_is_driven_and_no_function_may_write_the_signing_key_registry_or_clients() {
    let policies = Policies::load();
    let binaries: BTreeSet<&str> = policies.roles.iter().map(|r| r.binary.as_str()).collect();
    assert_eq!(binaries, DRIVEN.iter().copied().collect(), "every function of template.yaml has its flows here");
    let protected = [wxauth::store::signing_keys::key("any").pk, wxauth::store::clients::key("any-client").pk];
    for role in &policies.roles {
        for statement in role.statements.iter().filter(|s| s.is_dynamodb()) {
            let at = format!("{}/{}", role.binary, statement.sid);
            assert_ne!(
                statement.leading_keys,
                LeadingKeys::Unrestricted,
                "{at}: every DynamoDB grant names the partition keys it may touch (dynamodb:LeadingKeys)"
            );
            // ForAllValues is true for a request without leading keys, which a Scan is.
            assert!(!statement.allows_action("dynamodb:Scan"), "{at}: a Scan passes any LeadingKeys condition");
            for action in WRITE_ACTIONS.iter().filter(|a| statement.allows_action(a)) {
                for key in &protected {
                    assert!(
                        !statement.leading_keys.allows(std::slice::from_ref(key)),
                        "{at}: {action} on {key} would let this function forge what every verifier trusts"
                    );
                }
            }
        }
    }
}

// ---- requests ------------------------------------------------------------------------------------

/// The authorization request of these flows' web clients.
fn code_query(client_id: &str) -> Vec<(&str, &str)> {
    code_request(client_id, "openid", "s")
}

// ---- the functions' flows -----------------------------------------------------------------------

#[tokio::test]
async fn the_token_functions_policy_allows_exactly_what_its_grants_do() {
    token_function_flows(KeyCustody::Envelope, "envelope").await;
}

#[tokio::test]
async fn the_token_functions_policy_with_kms_held_keys_allows_exactly_what_its_grants_do() {
    token_function_flows(KeyCustody::Kms, "kms").await;
}

/// Every flow of the token function, its signing key held in `custody`, checked against the
/// template deployed with `SigningKeyCustody` = `parameter`.
async fn token_function_flows(custody: KeyCustody, parameter: &str) {
    let env = TestEnv::with_custody(custody).await;
    let proxy = FaultProxy::start().await;
    let app = proxy.server(&env).await;
    let (shop, game) = (env.miniprogram().await, env.miniprogram().await);

    // WeChat: a first login, a returning one, a unionid recorded on a known openid, an openid
    // linked to a user by its unionid, a first login with a unionid, and a unionid that
    // already belongs to another user (only the openid mapping is marked).
    let first = app.wechat_login(&shop, "ok-tia").await;
    assert_eq!(first.status, 200, "{}", first.json);
    for (mp, code) in [
        (&shop, "ok-tia~2"),
        (&shop, "ok-tia~3.u"),
        (&game, "ok-tia.u"),
        (&shop, "ok-uma.u"),
        (&game, "ok-uma"),
        (&game, "ok-uma~2.u"),
    ] {
        let login = app.wechat_login(mp, code).await;
        assert_eq!(login.status, 200, "{code}: {}", login.json);
    }
    let bad_code = app.wechat_login(&shop, "err-40029").await;
    assert_eq!((bad_code.status, bad_code.error()), (400, "invalid_grant"));
    let unknown_client = app.token(&[("grant_type", WECHAT_GRANT), ("client_id", "nobody"), ("code", "x")]).await;
    assert_eq!(unknown_client.status, 401);

    // Refresh: rotation, reuse (revokes the family), an unknown token, and a retry within the
    // reuse grace (replaces the successor).
    let rotated = app.refresh(&shop.client_id, first.str("refresh_token")).await;
    assert_eq!(rotated.status, 200, "{}", rotated.json);
    let reused = app.refresh(&shop.client_id, first.str("refresh_token")).await;
    assert_eq!((reused.status, reused.error()), (400, "invalid_grant"));
    let unknown = app.refresh(&shop.client_id, "never-issued").await;
    assert_eq!((unknown.status, unknown.error()), (400, "invalid_grant"));
    let graced = Server::new(proxy.app_with_config(&env, |c| c.refresh_reuse_grace = Duration::from_secs(30)).await);
    let login = env.login(&shop, "ok-wes").await;
    for attempt in ["rotates", "replaces the successor"] {
        let reply = graced.refresh(&shop.client_id, login.str("refresh_token")).await;
        assert_eq!(reply.status, 200, "{attempt}: {}", reply.json);
    }

    // authorization_code: redemption, then a replay (revokes what the code issued).
    let web = env.web_client(&[], "openid").await;
    env.password_user("tcode", "tcode's password").await;
    let code = code_for(&env, &code_query(&web), "tcode", "tcode's password").await;
    let redeemed = exchange(&app, &web, &code, PKCE_VERIFIER).await;
    assert_eq!(redeemed.status, 200, "{}", redeemed.json);
    let replayed = exchange(&app, &web, &code, PKCE_VERIFIER).await;
    assert_eq!((replayed.status, replayed.error()), (400, "invalid_grant"));

    // client_credentials, with the right secret and a wrong one.
    let (service, secret) = env.client(ClientKind::Confidential, &[], &[], "reports:read", None).await;
    let secret = secret.expect("a secret");
    assert_eq!(app.client_credentials(&service, &secret).await.status, 200);
    assert_eq!(app.client_credentials(&service, "wrong").await.status, 401);

    // password: a wrong password then the right one (counts, then clears the failures), and a
    // username locked by repeated failures.
    let (first_party, secret) =
        env.client(ClientKind::Confidential, &["password", "refresh_token"], &[], "openid", None).await;
    let secret = secret.expect("a secret");
    env.password_user("tpat", "tpat's password").await;
    env.password_user("tlou", "tlou's password").await;
    let first_party = (first_party, secret);
    let password =
        |username: &'static str, password: &'static str| app.password_grant(&first_party, username, password);
    assert_eq!(password("tpat", "wrong").await.status, 400);
    let signed_in = password("tpat", "tpat's password").await;
    assert_eq!(signed_in.status, 200, "{}", signed_in.json);
    for _ in 0..wxauth::domain::lockout::MAX_FAILURES {
        assert_eq!(password("tlou", "wrong").await.status, 400);
    }
    assert_eq!(password("tlou", "tlou's password").await.status, 400, "locked");

    Box::pin(device_polls(&env, &app)).await;

    assert_policy_matches_with(&[("SigningKeyCustody", parameter)], "token", &proxy, &[&env]);
}

/// The device grant's polls on `app`: one before the answer, one too early (slow_down), the
/// redemption (tokens and a refresh family), and the spent code polled again.
async fn device_polls(env: &TestEnv, app: &Server) {
    let tv = env.device_client(true).await;
    env.password_user("tdev", "tdev's password").await;
    let (device_code, user_code) = device_codes(env, &tv, None).await;
    assert_eq!(poll(app, &tv, &device_code).await.error(), "authorization_pending");
    assert_eq!(poll(app, &tv, &device_code).await.error(), "slow_down");
    let mut browser = DeviceBrowser::new(env, &env.mock_wechat, wxauth_tests::wechat_web::PHONE);
    browser.open("").await;
    browser.enter(&user_code).await;
    assert_eq!(browser.sign_in("tdev", "tdev's password").await.0, 302);
    interval_passes(env, &device_code).await;
    assert_eq!(poll(app, &tv, &device_code).await.status, 200);
    assert_eq!(poll(app, &tv, &device_code).await.error(), "invalid_grant");
}

#[tokio::test]
async fn the_authorize_functions_policy_allows_exactly_what_its_pages_do() {
    // Boxed: the flows' future is too big for a test thread's stack in a debug build.
    Box::pin(authorize_function_flows(KeyCustody::Envelope, "envelope")).await;
}

#[tokio::test]
async fn the_authorize_functions_policy_with_kms_held_keys_allows_exactly_what_its_pages_do() {
    Box::pin(authorize_function_flows(KeyCustody::Kms, "kms")).await;
}

async fn authorize_function_flows(custody: KeyCustody, parameter: &str) {
    // Scan sign-in on: every desktop page makes a mini-program code.
    let scan_client = format!("mp-{}", wxauth::secret::random_id());
    let login = wxauth_tests::scan::scan_login(&scan_client);
    let env = TestEnv::with_key(wxauth_provision::DEFAULT_ALGORITHM, custody, |c| c.scan_login = Some(login)).await;
    let appid = format!("wx{}", wxauth::secret::random_id().replace(['-', '_'], "0"));
    let mp = env.miniprogram_with_ids(&scan_client, &appid).await;
    let proxy = FaultProxy::start().await;
    let app = proxy.server(&env).await;
    let web = env.web_client(&[], "openid").await;
    let implicit = env.web_client(&["implicit"], "openid").await;
    let ava = env.password_user("ava", "ava's password").await;
    let right = approval("ava", "ava's password");

    // The code flow: the page, a wrong password (the page again), the right one (a code), and
    // the same form posted again.
    let page = open_sign_in(&app, &code_query(&web)).await.expect("the page");
    let wrong = approve(&app, &page, "ava", "nope").await;
    assert_eq!(wrong.status(), 200);
    let signed_in = submit_sign_in(&app, &page, &right, true).await;
    assert!(location_params(&signed_in).contains_key("code"));
    assert_eq!(submit_sign_in(&app, &page, &right, true).await.status(), 400, "a sign-in request answers once");

    // The browser session: a second request answered without a page; then, its consent expired
    // (TTL not yet run), the consent page, whose approval puts the consent afresh.
    let session = session_cookie(&signed_in).expect("a session cookie");
    let with_session = |mut req: lambda_http::Request, csrf: Option<&str>| {
        let cookie = csrf.map_or(session.clone(), |csrf| format!("{csrf}; {session}"));
        req.headers_mut().insert("cookie", cookie.parse().expect("cookie"));
        req
    };
    let silent = app.dispatch(with_session(sign_in_page_request(&code_query(&web)), None)).await;
    assert!(location_params(&silent).contains_key("code"), "answered through the session");
    env.expire_item(&wxauth::store::consents::key(&ava, &web)).await;
    let consent = app.dispatch(with_session(sign_in_page_request(&code_query(&web)), None)).await;
    let page = read_sign_in_page(consent).expect("the consent page");
    let approved = app
        .dispatch(with_session(sign_in_form_request(&page, &[("decision", "approve")], false), Some(&page.cookie)))
        .await;
    assert!(location_params(&approved).contains_key("code"), "consent given again");

    // Denied.
    let page = open_sign_in(&app, &code_query(&web)).await.expect("the page");
    let denied = location_params(&submit_sign_in(&app, &page, &[("decision", "deny")], true).await);
    assert_eq!(denied.get("error").map(String::as_str), Some("access_denied"));

    // Implicit: an access token in the fragment.
    let query = [("response_type", "token"), ("client_id", implicit.as_str()), ("redirect_uri", REDIRECT_URI)];
    let page = open_sign_in(&app, &query).await.expect("the page");
    assert!(location_params(&submit_sign_in(&app, &page, &right, true).await).contains_key("access_token"));

    // An unknown client: an error page.
    let unknown = open_sign_in(&app, &code_query("nobody")).await.expect_err("an error page");
    assert_eq!(unknown.status(), 400);

    // Sign in with WeChat on the web: inside WeChat a new person (the user, its openid and
    // unionid mappings, its profile), in the next request known by openid; on a desktop a person
    // first seen without a unionid, then with it (recorded on the user and the mapping).
    env.wechat_web_app(WebAppKind::OfficialAccount).await;
    env.wechat_web_app(WebAppKind::Website).await;
    let name = format!("iam{}", wxauth::secret::random_id().replace(['-', '_'], "x"));
    let mut phone = WechatBrowser::on(&app, &env.mock_wechat, IN_WECHAT);
    let (_, consent_page) = phone.sign_in(&code_query(&web), &format!("{name}.u")).await.page();
    assert!(consent_page.contains("decision"), "the consent page after WeChat");
    let mut again = WechatBrowser::on(&app, &env.mock_wechat, IN_WECHAT);
    again.wechat_cookies = phone.wechat_cookies.clone();
    assert!(matches!(again.sign_in(&code_query(&web), "unused").await, Landed::Page(200, _)));
    for user in [format!("{name}d"), format!("{name}d.u")] {
        let mut desktop = WechatBrowser::on(&app, &env.mock_wechat, DESKTOP);
        let (_, html) = desktop.sign_in(&code_query(&web), "unused").await.page();
        assert!(desktop.go(&wechat_link(&html), &user).await.client().contains_key("code"));
    }

    Box::pin(scan_flows(&env, &proxy, &app, &mp, &web)).await;

    // Boxed: the flows above already make this test's future as large as a test thread's stack.
    Box::pin(device_page_flows(&env, &app)).await;

    assert_policy_matches_with(&[("SigningKeyCustody", parameter)], "authorize", &proxy, &[&env]);
}

/// Scan with the mini program: the page's code (the server token fetched and cached, the ticket
/// and its image stored), the image and a poll; approved on the phone (setup), the browser
/// continues (the ticket used, a session, a code). A second container reads the cached server
/// token.
async fn scan_flows(env: &TestEnv, proxy: &FaultProxy, app: &Server, mp: &wxauth_tests::MiniProgram, web: &str) {
    let mut desktop = ScanBrowser::open_on(app, &env.mock_wechat, web, "openid").await;
    assert_eq!(desktop.image().await.0, 200);
    assert_eq!(desktop.poll().await.1["status"], "pending");
    let phone_user = env.login(mp, "ok-iamscan").await;
    assert_eq!(scan_action(env, phone_user.str("access_token"), &desktop.ticket, "approve").await.status, 200);
    assert_eq!(desktop.continue_().await.0, 302);
    let second = proxy.server(env).await;
    ScanBrowser::open_on(&second, &env.mock_wechat, web, "openid").await;
}

/// The device page on `app`: a code nobody waits for, a device's code (its grant read through the
/// user code), its sign-in (as `ava`) approving the device's grant, another device's denied.
async fn device_page_flows(env: &TestEnv, app: &Server) {
    let tv = env.device_client(false).await;
    for decision in ["approve", "deny"] {
        let (_, user_code) = device_codes(env, &tv, None).await;
        let mut browser = DeviceBrowser::new(app, &env.mock_wechat, wxauth_tests::wechat_web::PHONE);
        browser.open("").await;
        assert_eq!(browser.enter("BCDF-GHJK").await.0, 400);
        assert_eq!(browser.enter(&user_code).await.0, 200);
        let fields = [("username", "ava"), ("password", "ava's password"), ("decision", decision)];
        let answered = browser.post("/oauth/authorize", &["request_id", "csrf_token"], &fields).await;
        assert_eq!(answered.0, 302, "{decision}");
    }
}

#[tokio::test]
async fn the_wechat_scan_functions_policy_allows_exactly_what_answering_a_ticket_does() {
    let (env, mp) = wxauth_tests::scan::scan_env(|_| {}).await;
    let web = env.web_client(&[], "openid").await;
    let (first, second) = (env.login(&mp, "ok-iamsa").await, env.login(&mp, "ok-iamsb").await);
    let desktop = ScanBrowser::open(&env, &web, "openid").await;
    // Through the proxy: the scan, a second scanner refused (the ticket read after the lost
    // condition), the approval.
    let proxy = FaultProxy::start().await;
    let app = proxy.server(&env).await;
    assert_eq!(scan_action(&app, first.str("access_token"), &desktop.ticket, "scanned").await.status, 200);
    assert_eq!(scan_action(&app, second.str("access_token"), &desktop.ticket, "scanned").await.status, 400);
    assert_eq!(scan_action(&app, first.str("access_token"), &desktop.ticket, "approve").await.status, 200);

    assert_policy_matches("wechat-scan", &proxy, &[&env]);
}

#[tokio::test]
async fn the_device_authorization_functions_policy_allows_exactly_what_starting_a_device_grant_does() {
    let env = TestEnv::new().await;
    let tv = env.device_client(true).await;
    let web = env.web_client(&[], "openid").await;
    let (service, secret) =
        env.client(ClientKind::Confidential, &[wxauth_tests::device::DEVICE_GRANT], &[], "openid", None).await;
    let proxy = FaultProxy::start().await;
    let app = proxy.server(&env).await;
    // A public client's request, a confidential client's, one not registered for the grant, an
    // unknown client.
    assert_eq!(device_authorization(&app, &tv, Some("openid")).await.status, 200);
    let confidential = app.post_basic("/oauth/device_authorization", &service, &secret.expect("a secret"), &[]).await;
    assert_eq!(confidential.status, 200, "{}", confidential.json);
    assert_eq!(device_authorization(&app, &web, None).await.error(), "unauthorized_client");
    assert_eq!(device_authorization(&app, "nobody", None).await.status, 401);

    assert_policy_matches("device-authorization", &proxy, &[&env]);
}

#[tokio::test]
async fn the_end_session_functions_policy_allows_exactly_what_logout_does() {
    let (env, _) = TestEnv::with_logout_queue().await;
    // A back-channel URI: the logout queues a notice for it.
    let web = env.web_client_with_backchannel("https://rp.example/backchannel-logout").await;
    env.password_user("eli", "eli's password").await;
    // Signed in (directly): a session, and a token family bound to it.
    let query = code_query(&web);
    let page = open_sign_in(&env, &query).await.expect("the page");
    let signed_in = approve(&env, &page, "eli", "eli's password").await;
    let session = session_cookie(&signed_in).expect("a session cookie");
    let code = location_params(&signed_in).get("code").expect("a code").clone();
    let tokens = exchange(&env, &web, &code, PKCE_VERIFIER).await;
    let hint = tokens.str("id_token").to_string();

    // Through the proxy: a logout with a hint for the session's user (the session and its
    // families end), then one without any session (the signed-out page).
    let proxy = FaultProxy::start().await;
    let app = proxy.server(&env).await;
    let uri = format!("/oauth/end_session?{}", serde_urlencoded::to_string([("id_token_hint", &hint)]).expect("query"));
    let mut logout = wxauth_tests::raw_request("GET", &uri, None, lambda_http::Body::Empty);
    logout.headers_mut().insert("cookie", session.parse().expect("cookie"));
    assert_eq!(app.dispatch(logout).await.status(), 200, "signed out");
    let refreshed = env.refresh(&web, tokens.str("refresh_token")).await;
    assert_eq!(refreshed.error(), "invalid_grant", "the session's family ended with it");

    assert_policy_matches("end-session", &proxy, &[&env]);
}

#[tokio::test]
async fn the_backchannel_logout_functions_policy_allows_exactly_what_delivery_does() {
    let (env, queues) = TestEnv::with_logout_queue().await;
    let rp = RelyingParty::start().await;
    rp.answer(&[500]);
    let web = env.web_client_with_backchannel(&rp.url).await;
    let user = env.password_user("bea", "bea's password").await;
    let page = open_sign_in(&env, &code_request(&web, "openid", "b")).await.expect("the page");
    let signed_in = approve(&env, &page, "bea", "bea's password").await;
    let session = env.app.store.user_browser_sessions(&user, wxauth::clock::unix_now()).await;
    let session = session.expect("sessions").pop().expect("a session");
    assert!(session_cookie(&signed_in).is_some());
    let ended = wxauth::oauth::logout::end(&env.app, &session, wxauth::clock::unix_now()).await.expect("ended");
    assert_eq!(ended.notices, 1);

    // The function's own requests only: the event source's receive and delete are not its role's.
    let proxy = FaultProxy::start().await;
    let app = proxy.app(&env).await;
    for _ in 0..2 {
        let sqs = env.app.logout_queue.sqs();
        let received = sqs
            .receive_message()
            .queue_url(&queues.url)
            .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
            .send()
            .await
            .expect("receive");
        let message = received.messages.unwrap_or_default().pop().expect("the notice");
        // The first answer (500) is reported back and held back; the second delivers.
        let event = wxauth_local::event_source::event(std::slice::from_ref(&message));
        let answer = backchannel_logout::handle(&app, event).await;
        if answer.batch_item_failures.is_empty() {
            let handle = message.receipt_handle.expect("receipt");
            sqs.delete_message().queue_url(&queues.url).receipt_handle(handle).send().await.expect("delete");
        }
    }
    assert_eq!(rp.tokens().len(), 2);

    assert_policy_matches("backchannel-logout", &proxy, &[&env]);
}

#[tokio::test]
async fn the_revoke_functions_policy_allows_exactly_what_revocation_does() {
    let env = TestEnv::new().await;
    let proxy = FaultProxy::start().await;
    let app = proxy.server(&env).await;
    let (mp, other) = (env.miniprogram().await, env.miniprogram().await);
    let login = env.login(&mp, "ok-rae").await;
    let revoke = |client_id: String, token: String, hint: Option<&'static str>| {
        let app = &app;
        async move {
            let mut params = vec![("client_id", client_id.as_str()), ("token", token.as_str())];
            params.extend(hint.map(|h| ("token_type_hint", h)));
            app.call(form_request("/oauth/revoke", &params)).await
        }
    };
    let foreign = revoke(other.client_id.clone(), login.str("refresh_token").into(), None).await;
    assert_eq!((foreign.status, foreign.error()), (400, "unauthorized_client"));
    assert_eq!(revoke(mp.client_id.clone(), login.str("refresh_token").into(), None).await.status, 200);
    let access = login.str("access_token").to_string();
    assert_eq!(revoke(mp.client_id.clone(), access.clone(), Some("access_token")).await.status, 200);
    assert_eq!(revoke(mp.client_id.clone(), access, None).await.status, 200, "refresh first, then access");
    assert_eq!(revoke(mp.client_id.clone(), "never-issued".into(), None).await.status, 200);
    let unknown_client = revoke("nobody".into(), "x".into(), None).await;
    assert_eq!(unknown_client.status, 401);

    assert_policy_matches("revoke", &proxy, &[&env]);
}

#[tokio::test]
async fn the_introspect_functions_policy_allows_exactly_what_introspection_does() {
    let env = TestEnv::new().await;
    let proxy = FaultProxy::start().await;
    let app = proxy.server(&env).await;
    // A first-party confidential client: it may introspect its own refresh tokens too.
    let (rs, secret) =
        env.client(ClientKind::Confidential, &["password", "refresh_token"], &[], "openid", Some(ISSUER)).await;
    let secret = secret.expect("a secret");
    env.password_user("ira", "ira's password").await;
    let grant = [("grant_type", "password"), ("username", "ira"), ("password", "ira's password")];
    let tokens = env.post_basic("/oauth/token", &rs, &secret, &grant).await;
    assert_eq!(tokens.status, 200, "{}", tokens.json);
    let introspect = |token: String| {
        let (app, rs, secret) = (&app, &rs, &secret);
        async move { app.post_basic("/oauth/introspect", rs, secret, &[("token", &token)]).await }
    };
    for token in [tokens.str("access_token"), tokens.str("refresh_token")] {
        let answer = introspect(token.to_string()).await;
        assert_eq!(answer.json["active"], true, "{}", answer.json);
    }
    assert_eq!(introspect("garbage".into()).await.json["active"], false);
    env.post_basic("/oauth/revoke", &rs, &secret, &[("token", tokens.str("access_token"))]).await;
    assert_eq!(introspect(tokens.str("access_token").into()).await.json["active"], false, "revoked");
    let public = env.web_client(&[], "openid").await;
    let req = form_request("/oauth/introspect", &[("client_id", &public), ("token", "x")]);
    assert_eq!(app.call(req).await.status, 401);

    assert_policy_matches("introspect", &proxy, &[&env]);
}

#[tokio::test]
async fn the_userinfo_functions_policy_allows_exactly_what_userinfo_does() {
    let env = TestEnv::new().await;
    let proxy = FaultProxy::start().await;
    let app = proxy.server(&env).await;
    let mp = env.miniprogram().await;
    let login = env.login(&mp, "ok-uli.u").await;
    let access = login.str("access_token");
    for method in ["GET", "POST"] {
        let info = app.protected(method, "/userinfo", access, None).await;
        assert_eq!(info.status, 200, "{method}: {}", info.json);
    }
    env.revoke(&mp.client_id, access).await;
    assert_eq!(app.protected("GET", "/userinfo", access, None).await.status, 401);
    assert_eq!(app.protected("GET", "/userinfo", "garbage", None).await.status, 401);

    assert_policy_matches("userinfo", &proxy, &[&env]);
}

#[tokio::test]
async fn the_wechat_decrypt_functions_policy_allows_exactly_what_decryption_does() {
    let env = TestEnv::new().await;
    let proxy = FaultProxy::start().await;
    let app = proxy.server(&env).await;
    let mp = env.miniprogram().await;
    let first = env.login(&mp, "ok-dee").await;
    let decrypt = |access: &str, body: Json| app.call(bearer_request("POST", "/wechat/decrypt", access, Some(body)));
    let profile = encrypted_profile(&mock_session_key("dee"), &mp.appid, "Dee");
    assert_eq!(decrypt(first.str("access_token"), profile.clone()).await.status, 200);
    // After a second login the data is still under the previous key: two decryptions.
    let second = env.login(&mp, "ok-dee~2").await;
    assert_eq!(decrypt(second.str("access_token"), profile).await.status, 200);
    let garbled = decrypt(second.str("access_token"), json!({"encrypted_data": "AAAA", "iv": "AAAA"})).await;
    assert_eq!(garbled.status, 400);

    assert_policy_matches("wechat-decrypt", &proxy, &[&env]);
}

#[tokio::test]
async fn the_wechat_phone_functions_policy_allows_exactly_what_phone_numbers_need() {
    let env = TestEnv::new().await;
    let proxy = FaultProxy::start().await;
    let mp = env.miniprogram().await;
    let login = env.login(&mp, "ok-pia").await;
    async fn phone(app: &Server, access: &str, code: &str) -> u16 {
        app.protected("POST", "/wechat/phone", access, Some(json!({"code": code}))).await.status
    }
    let access = login.str("access_token");
    // One container fetches the server access token and caches it in the table; a second one
    // reads it from there; WeChat then rejects it and the second renews it.
    let (first, second) = (proxy.server(&env).await, proxy.server(&env).await);
    assert_eq!(phone(&first, access, "phone-13800000001").await, 200);
    assert_eq!(phone(&second, access, "phone-13800000002").await, 200);
    env.mock_post("/mock/access-tokens/invalidate", json!({"appid": mp.appid})).await;
    assert_eq!(phone(&second, access, "phone-13800000003").await, 200);
    assert_eq!(phone(&second, access, "err-40029").await, 400);

    assert_policy_matches("wechat-phone", &proxy, &[&env]);
}

#[tokio::test]
async fn the_wechat_session_functions_policy_allows_exactly_what_the_session_check_does() {
    let env = TestEnv::new().await;
    let proxy = FaultProxy::start().await;
    let mp = env.miniprogram().await;
    let login = env.login(&mp, "ok-sia").await;
    // A first container fetches and caches the server access token, a second reads it.
    let (first, second) = (proxy.server(&env).await, proxy.server(&env).await);
    for app in [&first, &second] {
        let answer = app.protected("GET", "/wechat/session", login.str("access_token"), None).await;
        assert_eq!((answer.status, answer.json["valid"].as_bool()), (200, Some(true)), "{}", answer.json);
    }

    assert_policy_matches("wechat-session", &proxy, &[&env]);
}

#[tokio::test]
async fn the_jwks_and_metadata_functions_policies_allow_exactly_what_they_do() {
    let env = TestEnv::new().await;
    let proxy = FaultProxy::start().await;
    assert_eq!(proxy.server(&env).await.get("/.well-known/jwks.json").await.status, 200);
    assert_policy_matches("jwks", &proxy, &[&env]);
    let proxy = FaultProxy::start().await;
    assert_eq!(proxy.server(&env).await.get(metadata::OAUTH_PATH).await.status, 200);
    assert!(recorded(&Policies::load(), &proxy).is_empty(), "the metadata function calls no AWS service");
    assert_policy_matches("metadata", &proxy, &[&env]);
}

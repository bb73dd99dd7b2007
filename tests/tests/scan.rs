//! Signing in on a computer by scanning the mini program's code: the desktop page's code (a
//! real image from WeChat's `getwxacodeunlimit`), the mini program's answers through
//! `POST /wechat/scan`, the page's polling and the browser's continue; and what must never sign
//! anybody in (a second scanner, another client's token, another browser, a used, denied or
//! expired ticket).

use serde_json::{Value, json};
use wxauth::secret::hash;
use wxauth::store::scan_tickets::ticket_key;
use wxauth_tests::scan::{SCAN_PAGE, ScanBrowser, decode_qr, scan_action, scan_action_from, scan_env, ticket_of};
use wxauth_tests::sign_in::{PKCE_VERIFIER, REDIRECT_URI, code_request, exchange, hidden_field};
use wxauth_tests::wechat_web::{BROWSER_IP, DESKTOP, IN_WECHAT, PHONE, WechatBrowser};
use wxauth_tests::{ISSUER, TestEnv};

const SCOPE: &str = "openid profile";

fn claims(jwt: &str) -> Value {
    jsonwebtoken::dangerous::insecure_decode::<Value>(jwt).expect("jwt").claims
}

/// A person name unique to this test run.
fn person(prefix: &str) -> String {
    format!("{prefix}{}", wxauth::secret::random_id().replace(['-', '_'], "x"))
}

/// A mini-program user of `mp`: their access token and `sub`.
async fn phone_user(env: &TestEnv, mp: &wxauth_tests::MiniProgram, prefix: &str) -> (String, String) {
    let login = env.login(mp, &format!("ok-{}", person(prefix))).await;
    assert_eq!(login.status, 200, "{}", login.json);
    let access = login.str("access_token").to_string();
    let sub = claims(&access)["sub"].as_str().expect("sub").to_string();
    (access, sub)
}

#[tokio::test]
async fn the_phone_approves_and_the_desktop_lands_at_the_client_signed_in_as_the_mini_program_user() {
    let (env, mp) = scan_env(|_| {}).await;
    let client = env.web_client(&[], SCOPE).await;
    let (access, sub) = phone_user(&env, &mp, "ann").await;
    let mut desktop = ScanBrowser::open(&env, &client, SCOPE).await;

    // The code is WeChat's image of the confirmation page with the ticket as its scene.
    let (status, content_type, png) = desktop.image().await;
    assert_eq!((status, content_type.as_deref()), (200, Some("image/png")));
    assert_eq!(decode_qr(&png), format!("{SCAN_PAGE}?scene={}", desktop.ticket));
    let recorded = env.mock_get(&format!("/mock/wxacodes?appid={}", mp.appid)).await;
    assert_eq!(recorded[0]["scene"], desktop.ticket.as_str());
    assert_eq!(recorded[0]["page"], SCAN_PAGE);
    assert_eq!(recorded[0]["env_version"], "release");

    assert_eq!(desktop.poll().await, (200, json!({"status": "pending"})));
    let scanned = scan_action(&env, &access, &desktop.ticket, "scanned").await;
    assert_eq!(scanned.status, 200, "{}", scanned.json);
    assert_eq!(scanned.json["status"], "scanned");
    assert_eq!(scanned.json["client_name"], "Test public");
    assert_eq!(scanned.json["scopes"], json!(["openid", "profile"]));
    assert!((290..=300).contains(&scanned.json["expires_in"].as_i64().expect("expires_in")));
    // The browser asking, as the phone's user can recognise it (the phone is on another network).
    let asking = json!({"browser": "Chrome", "os": "Linux", "ip": "192.0.2.*", "same_network": false});
    assert_eq!(scanned.json["requested_from"], asking);
    assert_eq!(desktop.poll().await, (200, json!({"status": "scanned"})));

    // Without JavaScript the browser follows the page's link early: a page that looks again.
    let (status, location, html) = desktop.continue_().await;
    assert_eq!((status, location), (200, None));
    assert!(html.contains("<meta http-equiv=\"refresh\" content=\"2\">"), "{html}");

    // Approved from the computer's own Wi-Fi: the same network.
    let approved = scan_action_from(&env, BROWSER_IP, &access, &desktop.ticket, "approve").await;
    assert_eq!((approved.status, approved.json["status"].as_str()), (200, Some("approved")));
    assert_eq!(approved.json["requested_from"]["same_network"], true);
    let continue_url = format!("{ISSUER}/oauth/scan/{}/continue", desktop.ticket);
    assert_eq!(desktop.poll().await, (200, json!({"status": "approved", "continue": continue_url})));

    let (status, location, _) = desktop.continue_().await;
    assert_eq!(status, 302);
    let location = location.expect("location");
    let query = location.strip_prefix(&format!("{REDIRECT_URI}?")).expect("at the client");
    let params: std::collections::HashMap<String, String> = serde_urlencoded::from_str(query).expect("params");
    assert_eq!(params["state"], "st");
    let tokens = exchange(&env, &client, &params["code"], PKCE_VERIFIER).await;
    assert_eq!(tokens.status, 200, "{}", tokens.json);
    let id = claims(tokens.str("id_token"));
    assert_eq!(id["sub"], sub.as_str(), "the desktop is signed in as the mini program's user");
    assert_eq!(id["amr"], json!(["mini_program_scan"]));
    assert!(id["sid"].is_string());

    // Once: the ticket is used, and polling it says nothing more.
    let (status, location, html) = desktop.continue_().await;
    assert_eq!((status, location), (400, None), "{html}");
    assert_eq!(desktop.poll().await, (200, json!({"status": "expired"})));
    // The browser holds a session now: the next request of the client needs no page.
    let (status, location, _) =
        desktop.browser.ours(&format!("/oauth/authorize?{}&prompt=none", query_of(&client))).await;
    assert_eq!(status, 302);
    let silent = location_params_of(&location.expect("location"));
    let tokens = exchange(&env, &client, &silent["code"], PKCE_VERIFIER).await;
    assert_eq!(claims(tokens.str("id_token"))["sub"], sub.as_str());
}

fn query_of(client: &str) -> String {
    serde_urlencoded::to_string(code_request(client, SCOPE, "st")).expect("query")
}

fn location_params_of(location: &str) -> std::collections::HashMap<String, String> {
    let query = location.split_once('?').expect("query").1;
    serde_urlencoded::from_str(query).expect("params")
}

#[tokio::test]
async fn a_ticket_binds_to_its_first_scanner_and_nobody_else_can_answer_it() {
    let (env, mp) = scan_env(|_| {}).await;
    let client = env.web_client(&[], SCOPE).await;
    let (first, first_sub) = phone_user(&env, &mp, "bo").await;
    let (second, _) = phone_user(&env, &mp, "cy").await;
    let mut desktop = ScanBrowser::open(&env, &client, SCOPE).await;

    assert_eq!(scan_action(&env, &first, &desktop.ticket, "scanned").await.status, 200);
    for action in ["scanned", "approve", "deny"] {
        let other = scan_action(&env, &second, &desktop.ticket, action).await;
        assert_eq!((other.status, other.error()), (400, "invalid_request"), "{action}: {}", other.json);
        assert_eq!(other.json["error_description"], "another user scanned this code");
    }
    assert_eq!(desktop.poll().await.1["status"], "scanned", "the second scanner changed nothing");
    // The first scanner's answers are idempotent (a retry whose answer was lost).
    for _ in 0..2 {
        let approved = scan_action(&env, &first, &desktop.ticket, "approve").await;
        assert_eq!((approved.status, approved.json["status"].as_str()), (200, Some("approved")));
    }
    let denied_after = scan_action(&env, &first, &desktop.ticket, "deny").await;
    assert_eq!((denied_after.status, denied_after.error()), (400, "invalid_grant"));
    let (status, location, _) = desktop.continue_().await;
    assert_eq!(status, 302);
    let code = location_params_of(&location.expect("location"))["code"].clone();
    let tokens = exchange(&env, &client, &code, PKCE_VERIFIER).await;
    assert_eq!(claims(tokens.str("id_token"))["sub"], first_sub.as_str());
}

#[tokio::test]
async fn a_denial_is_told_to_the_page_and_signs_nobody_in() {
    let (env, mp) = scan_env(|_| {}).await;
    let client = env.web_client(&[], SCOPE).await;
    let (access, _) = phone_user(&env, &mp, "di").await;
    let mut desktop = ScanBrowser::open(&env, &client, SCOPE).await;
    let denied = scan_action(&env, &access, &desktop.ticket, "deny").await;
    assert_eq!((denied.status, denied.json["status"].as_str()), (200, Some("denied")));
    assert_eq!(desktop.poll().await, (200, json!({"status": "denied"})));
    let (status, location, html) = desktop.continue_().await;
    assert_eq!((status, location), (403, None));
    assert!(html.contains("declined in the mini program") || html.contains("已在小程序中取消登录"), "{html}");
    assert!(!desktop.browser.cookies.keys().any(|name| name.contains("session")), "nobody signed in");
    let approve = scan_action(&env, &access, &desktop.ticket, "approve").await;
    assert_eq!((approve.status, approve.error()), (400, "invalid_grant"));

    // The page offers a new code: the same request, a new ticket.
    let fields = [
        ("request_id", hidden_field(&desktop.html, "request_id")),
        ("csrf_token", hidden_field(&desktop.html, "csrf_token")),
        ("scan", "renew".to_string()),
    ];
    let renewed = post_form(&env, &desktop.browser, &fields).await;
    assert_eq!(renewed.0, 200);
    let ticket = ticket_of(&renewed.1).expect("a new code");
    assert_ne!(ticket, desktop.ticket);
    desktop.ticket = ticket;
    assert_eq!(desktop.poll().await, (200, json!({"status": "pending"})));
    assert_eq!(scan_action(&env, &access, &desktop.ticket, "approve").await.status, 200);
    assert_eq!(desktop.continue_().await.0, 302, "the new code signs in");
}

/// Posts the sign-in form `fields` from `browser` (with its cookies).
async fn post_form(env: &TestEnv, browser: &WechatBrowser<'_>, fields: &[(&str, String)]) -> (u16, String) {
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut req = wxauth_tests::form_request("/oauth/authorize", &fields);
    let cookie = browser.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
    req.headers_mut().insert("cookie", cookie.parse().expect("cookie"));
    req.headers_mut().insert("user-agent", DESKTOP.parse().expect("ua"));
    let res = env.dispatch(req).await;
    (res.status().as_u16(), String::from_utf8_lossy(res.body().as_ref()).into_owned())
}

#[tokio::test]
async fn an_expired_ticket_cannot_be_answered_polled_or_continued() {
    let (env, mp) = scan_env(|_| {}).await;
    let client = env.web_client(&[], SCOPE).await;
    let (access, _) = phone_user(&env, &mp, "ed").await;
    let mut desktop = ScanBrowser::open(&env, &client, SCOPE).await;
    assert_eq!(scan_action(&env, &access, &desktop.ticket, "approve").await.status, 200);
    // TTL deletes late: the item is still there, past its time.
    env.expire_item(&ticket_key(&hash(&desktop.ticket))).await;
    let late = scan_action(&env, &access, &desktop.ticket, "scanned").await;
    assert_eq!((late.status, late.error()), (400, "invalid_grant"));
    assert_eq!(desktop.poll().await, (200, json!({"status": "expired"})));
    let (status, location, _) = desktop.continue_().await;
    assert_eq!((status, location), (400, None));
    assert_eq!(desktop.image().await.0, 404);
}

#[tokio::test]
async fn only_the_scan_mini_programs_tokens_count() {
    let (env, _mp) = scan_env(|_| {}).await;
    let client = env.web_client(&[], SCOPE).await;
    let other_mp = env.miniprogram().await;
    let (other, _) = phone_user(&env, &other_mp, "ot").await;
    let desktop = ScanBrowser::open(&env, &client, SCOPE).await;
    let refused = scan_action(&env, &other, &desktop.ticket, "approve").await;
    assert_eq!((refused.status, refused.error()), (403, "access_denied"), "{}", refused.json);
    let anonymous = env.call(wxauth_tests::raw_request(
        "POST",
        "/wechat/scan",
        Some("application/json"),
        lambda_http::Body::Text(json!({"scene": desktop.ticket, "action": "approve"}).to_string()),
    ));
    assert_eq!(anonymous.await.status, 401);
}

#[tokio::test]
async fn polling_learns_nothing_about_unknown_tickets_or_another_browsers() {
    let (env, mp) = scan_env(|_| {}).await;
    let client = env.web_client(&[], SCOPE).await;
    let (access, _) = phone_user(&env, &mp, "un").await;
    let mut desktop = ScanBrowser::open(&env, &client, SCOPE).await;
    let mut stranger = WechatBrowser::new(&env, DESKTOP);
    for ticket in [&"0".repeat(32), &desktop.ticket, &"x".repeat(40)] {
        let (status, _, body) = stranger.ours(&format!("/oauth/scan/{ticket}")).await;
        assert_eq!((status, body.as_str()), (200, r#"{"status":"expired"}"#), "{ticket}");
    }
    let (status, _, _) = stranger.ours(&format!("/oauth/scan/{}/image", desktop.ticket)).await;
    assert_eq!(status, 404);
    assert_eq!(scan_action(&env, &access, &desktop.ticket, "approve").await.status, 200);
    // Another browser cannot continue the approval, and does not spoil it.
    let (status, location, _) = stranger.ours(&format!("/oauth/scan/{}/continue", desktop.ticket)).await;
    assert_eq!((status, location), (400, None));
    assert!(!stranger.cookies.keys().any(|name| name.contains("session")));
    assert_eq!(desktop.continue_().await.0, 302);
    let unknown = scan_action(&env, &access, &"0".repeat(32), "scanned").await;
    assert_eq!((unknown.status, unknown.error()), (400, "invalid_grant"));
    let malformed = scan_action(&env, &access, "../../x", "scanned").await;
    assert_eq!((malformed.status, malformed.error()), (400, "invalid_grant"));
    let bad_action = scan_action(&env, &access, &desktop.ticket, "approved").await;
    assert_eq!((bad_action.status, bad_action.error()), (400, "invalid_request"));
}

#[tokio::test]
async fn two_continues_at_once_sign_in_once() {
    let (env, mp) = scan_env(|_| {}).await;
    let client = env.web_client(&[], SCOPE).await;
    let (access, _) = phone_user(&env, &mp, "tw").await;
    let desktop = ScanBrowser::open(&env, &client, SCOPE).await;
    assert_eq!(scan_action(&env, &access, &desktop.ticket, "approve").await.status, 200);
    let (mut a, mut b) = (clone_browser(&env, &desktop), clone_browser(&env, &desktop));
    let path = format!("/oauth/scan/{}/continue", desktop.ticket);
    let (first, second) = tokio::join!(a.ours(&path), b.ours(&path));
    let mut statuses = [first.0, second.0];
    statuses.sort();
    assert_eq!(statuses, [302, 400]);
}

fn clone_browser<'a>(env: &'a TestEnv, desktop: &ScanBrowser<'_>) -> WechatBrowser<'a> {
    let mut browser = WechatBrowser::new(env, DESKTOP);
    browser.cookies = desktop.browser.cookies.clone();
    browser
}

#[tokio::test]
async fn wechats_refusals_are_told_on_the_page_beside_the_other_ways_to_sign_in() {
    let (env, mp) = scan_env(|_| {}).await;
    let client = env.web_client(&[], SCOPE).await;
    let page = |expected: &'static str| {
        let env = &env;
        let client = client.clone();
        async move {
            let mut browser = WechatBrowser::new(env, DESKTOP);
            let (status, _, html) = browser.ours(&format!("/oauth/authorize?{}", query_of(&client))).await;
            assert_eq!(status, 200, "{html}");
            assert!(html.contains(expected), "{expected}:\n{html}");
            assert!(html.contains("name=\"password\""), "the other ways stay");
            html
        }
    };
    for (errcode, words) in [
        (41030, "sign-in page is not published"),
        (45009, "WeChat is making too many codes for this mini program just now"),
        (40097, "The code could not be made just now"),
    ] {
        env.mock_post("/mock/wxacode-errors", json!({"appid": mp.appid, "errcode": errcode, "times": 1})).await;
        let html = page(words).await;
        assert!(ticket_of(&html).is_none() && !html.contains("<script"), "{errcode}");
    }
    // A refused server token is renewed once, and the code made.
    env.mock_post("/mock/wxacode-errors", json!({"appid": mp.appid, "errcode": 40001, "times": 1})).await;
    let html = page("data-status=\"/oauth/scan/").await;
    assert!(html.contains("<script>"));
    // WeChat busy (-1) once: retried.
    env.mock_post("/mock/wxacode-errors", json!({"appid": mp.appid, "errcode": -1, "times": 1})).await;
    page("data-status=\"/oauth/scan/").await;
}

#[tokio::test]
async fn only_desktop_sign_in_pages_show_a_code() {
    let (env, _mp) = scan_env(|_| {}).await;
    let client = env.web_client(&[], SCOPE).await;
    for user_agent in [PHONE, IN_WECHAT] {
        let mut browser = WechatBrowser::new(&env, user_agent);
        let (status, _, html) = browser.ours(&format!("/oauth/authorize?{}", query_of(&client))).await;
        assert_eq!(status, 200, "{user_agent}");
        assert!(ticket_of(&html).is_none() && !html.contains("<script"), "{user_agent}");
    }
    let plain = TestEnv::new().await;
    let client = plain.web_client(&[], SCOPE).await;
    let mut browser = WechatBrowser::new(&plain, DESKTOP);
    let (_, _, html) = browser.ours(&format!("/oauth/authorize?{}", query_of(&client))).await;
    assert!(ticket_of(&html).is_none(), "no scan sign-in configured");
}

#[tokio::test]
async fn a_poll_is_one_read_and_the_approval_reaches_the_code_without_kms() {
    let (env, mp) = scan_env(|_| {}).await;
    let client = env.web_client(&[], SCOPE).await;
    let (access, _) = phone_user(&env, &mp, "me").await;
    let desktop = ScanBrowser::open(&env, &client, SCOPE).await;
    assert_eq!(scan_action(&env, &access, &desktop.ticket, "scanned").await.status, 200);

    // The page's poll, through the proxy that records every AWS request.
    let polls = wxauth_tests::faults::FaultProxy::start().await;
    let server = polls.server(&env).await;
    let mut browser = WechatBrowser::on(&server, &env.mock_wechat, DESKTOP);
    browser.cookies = desktop.browser.cookies.clone();
    let (status, _, body) = browser.ours(&format!("/oauth/scan/{}", desktop.ticket)).await;
    assert_eq!((status, body.as_str()), (200, r#"{"status":"scanned"}"#));
    assert_eq!(polls.targets(), ["DynamoDB_20120810.GetItem"], "a poll is one read");
    assert_eq!(polls.calls("DynamoDB_20120810.GetItem"), 1);

    // From the approval to the code: the phone's answer, the poll that sees it, the continue.
    let proxy = wxauth_tests::faults::FaultProxy::start().await;
    let server = proxy.server(&env).await;
    assert_eq!(scan_action(&server, &access, &desktop.ticket, "approve").await.status, 200);
    let mut browser = WechatBrowser::on(&server, &env.mock_wechat, DESKTOP);
    browser.cookies = desktop.browser.cookies.clone();
    let (_, _, body) = browser.ours(&format!("/oauth/scan/{}", desktop.ticket)).await;
    assert!(body.contains("\"continue\""), "{body}");
    let (status, _, _) = browser.ours(&format!("/oauth/scan/{}/continue", desktop.ticket)).await;
    assert_eq!(status, 302);
    let counts: Vec<(String, usize)> = proxy.targets().into_iter().map(|t| (t.clone(), proxy.calls(&t))).collect();
    eprintln!("approve to code: {counts:?}");
    assert!(counts.iter().all(|(target, _)| target.starts_with("DynamoDB")), "no KMS: {counts:?}");
}

//! The device authorization grant (RFC 8628): `POST /oauth/device_authorization`, the token
//! endpoint's `urn:ietf:params:oauth:grant-type:device_code`, and the verification page
//! `/device` with every sign-in method of the sign-in page. In-process against the test's own
//! deployment; the `oauth2` crate (a client library nobody here wrote) over HTTP against the
//! local server and its `demo-device` client.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

use oauth2::basic::BasicClient;
use oauth2::{
    AsyncHttpClient, ClientId, DeviceAuthorizationUrl, DeviceCodeErrorResponseType, HttpClientError, HttpRequest,
    HttpResponse, RequestTokenError, Scope as OAuthScope, StandardDeviceAuthorizationResponse, TokenResponse as _,
    TokenUrl,
};
use wxauth::domain::wechat_web::WebAppKind;
use wxauth::pages::Locale;
use wxauth::pages::text::Text;
use wxauth::scope::Scope;
use wxauth_tests::device::{
    DEVICE_GRANT, DeviceBrowser, device_authorization, device_codes, get_page, interval_passes, poll, set_number,
    stored_grant,
};
use wxauth_tests::scan::{scan_action, scan_env, ticket_of};
use wxauth_tests::wechat_web::{DESKTOP, IN_WECHAT, Landed, PHONE, wechat_link};
use wxauth_tests::{
    ISSUER, PKCE_VERIFIER, Reply, TestEnv, approve, code_request, exchange, form_request, location_params,
    open_sign_in, session_cookie,
};

const APPROVED: &str = "https://auth.wxauth.test/device?result=approved";
const DENIED: &str = "https://auth.wxauth.test/device?result=denied";

fn en() -> &'static Text {
    Text::of(Locale::En)
}

/// A device client that may refresh, and a password user `username` (password `<username>'s
/// password`): their ids.
async fn tv_and_user(env: &TestEnv, username: &str) -> (String, String) {
    let tv = env.device_client(true).await;
    let user = env.password_user(username, &format!("{username}'s password")).await;
    (tv, user)
}

/// The error code of a poll that got no tokens.
fn refused(reply: &Reply) -> (u16, &str) {
    assert!(reply.json["access_token"].is_null(), "{}", reply.json);
    (reply.status, reply.error())
}

/// The person at a phone's browser: the code from `verification_uri_complete`, then a password
/// sign-in that allows. Returns where the browser was sent.
async fn approve_with_password(env: &TestEnv, user_code: &str, username: &str) -> String {
    let mut browser = DeviceBrowser::new(env, &env.mock_wechat, PHONE);
    let (status, _, html) = browser.open(&format!("user_code={user_code}")).await;
    assert_eq!(status, 200, "{html}");
    let (status, _, html) = browser.enter(user_code).await;
    assert_eq!(status, 200, "the sign-in page: {html}");
    let (status, location, body) = browser.sign_in(username, &format!("{username}'s password")).await;
    assert_eq!(status, 302, "{body}");
    location.expect("Location")
}

#[tokio::test]
async fn a_device_gets_tokens_once_its_user_signs_in_with_a_password_at_the_device_page() {
    let env = TestEnv::new().await;
    let (tv, user) = tv_and_user(&env, "dina").await;
    let started = device_authorization(&env, &tv, Some("openid profile")).await;
    assert_eq!(started.status, 200, "{}", started.json);
    assert_eq!((started.header("cache-control"), started.header("pragma")), (Some("no-store"), Some("no-cache")));
    let (device_code, user_code) = (started.str("device_code"), started.str("user_code"));
    assert_eq!(device_code.len(), 43, "256 bits, base64url");
    assert!(
        user_code.len() == 9
            && user_code.char_indices().all(|(i, c)| if i == 4 {
                c == '-'
            } else {
                "BCDFGHJKLMNPQRSTVWXZ".contains(c)
            }),
        "{user_code}"
    );
    assert_eq!(started.str("verification_uri"), format!("{ISSUER}/device"));
    assert_eq!(started.str("verification_uri_complete"), format!("{ISSUER}/device?user_code={user_code}"));
    assert_eq!((started.json["expires_in"].as_i64(), started.json["interval"].as_i64()), (Some(600), Some(5)));

    assert_eq!(refused(&poll(&env, &tv, device_code).await), (400, "authorization_pending"));

    let mut browser = DeviceBrowser::new(&env, &env.mock_wechat, PHONE);
    let (status, _, html) = browser.open(&format!("user_code={user_code}")).await;
    assert_eq!(status, 200);
    assert!(html.contains(&format!("value=\"{user_code}\">")), "pre-filled: {html}");
    let (status, _, html) = browser.enter(user_code).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("name=\"password\"") && html.contains("action=\"/oauth/authorize\""), "{html}");
    assert!(html.contains("<strong>Test public</strong>") && html.contains("data-scope=\"profile\""), "{html}");
    assert!(html.contains(en().approve), "its button signs in and allows: {html}");
    let (status, location, _) = browser.sign_in("dina", "dina's password").await;
    assert_eq!((status, location.as_deref()), (302, Some(APPROVED)), "no code, no redirect URI: the result page");
    let (status, _, html) = browser.follow(APPROVED).await;
    assert_eq!(status, 200);
    assert!(html.contains(en().device_approved_title) && html.contains(en().device_approved), "{html}");

    interval_passes(&env, device_code).await;
    let tokens = poll(&env, &tv, device_code).await;
    assert_eq!(tokens.status, 200, "{}", tokens.json);
    assert_eq!(tokens.header("cache-control"), Some("no-store"));
    let claims = tokens.claims();
    assert_eq!((claims["sub"].as_str(), claims["client_id"].as_str()), (Some(user.as_str()), Some(tv.as_str())));
    assert_eq!(tokens.str("scope"), "openid profile");
    let (_, id) = env.verify_id_token(tokens.str("id_token"), &tv).await;
    assert_eq!(id["sub"], user.as_str());
    assert_eq!(id["amr"], serde_json::json!(["pwd"]));
    let now = wxauth::clock::unix_now();
    assert!(id["auth_time"].as_i64().is_some_and(|t| (now - 30..=now).contains(&t)), "{id}");
    assert!(id["sid"].is_string(), "the approving browser session: {id}");
    assert!(id.get("nonce").is_none());
    let refreshed = env.refresh(&tv, tokens.str("refresh_token")).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.json);

    assert_eq!(refused(&poll(&env, &tv, device_code).await), (400, "invalid_grant"), "redeemed once");
}

#[tokio::test]
async fn polling_before_the_interval_is_over_is_slow_down_and_the_interval_grows_by_five_seconds() {
    let env = TestEnv::new().await;
    let tv = env.device_client(false).await;
    let (device_code, _) = device_codes(&env, &tv, None).await;
    let before = wxauth::clock::unix_now();
    assert_eq!(refused(&poll(&env, &tv, &device_code).await), (400, "authorization_pending"), "the first at once");
    let grant = stored_grant(&env, &device_code).await;
    assert_eq!(grant.interval, 5);
    assert!((before + 5..=before + 6).contains(&grant.next_poll_at), "{grant:?}");

    let too_fast = poll(&env, &tv, &device_code).await;
    assert_eq!(refused(&too_fast), (400, "slow_down"));
    let grant = stored_grant(&env, &device_code).await;
    assert_eq!(grant.interval, 10, "RFC 8628 §3.5: increased by 5 seconds");
    assert!(grant.next_poll_at >= before + 10, "this poll counts as one: {grant:?}");

    // After the old interval, before the new one: still too fast, and slower again.
    set_number(&env, &device_code, "next_poll_at", wxauth::clock::unix_now() + 5).await;
    assert_eq!(refused(&poll(&env, &tv, &device_code).await), (400, "slow_down"));
    assert_eq!(stored_grant(&env, &device_code).await.interval, 15);

    // Waiting the interval out: pending again, and the interval stays ("all subsequent requests").
    interval_passes(&env, &device_code).await;
    let now = wxauth::clock::unix_now();
    assert_eq!(refused(&poll(&env, &tv, &device_code).await), (400, "authorization_pending"));
    let grant = stored_grant(&env, &device_code).await;
    assert_eq!(grant.interval, 15);
    assert!((now + 15..=now + 16).contains(&grant.next_poll_at), "{grant:?}");
}

#[tokio::test]
async fn a_denied_request_is_access_denied_for_the_device_and_its_code_is_used_up() {
    let env = TestEnv::new().await;
    let (tv, _) = tv_and_user(&env, "dana").await;
    let (device_code, user_code) = device_codes(&env, &tv, Some("openid")).await;
    let mut browser = DeviceBrowser::new(&env, &env.mock_wechat, PHONE);
    browser.open("").await;
    assert_eq!(browser.enter(&user_code).await.0, 200);
    let (status, location, _) = browser.decide("deny").await;
    assert_eq!((status, location.as_deref()), (302, Some(DENIED)));
    let (_, _, html) = browser.follow(DENIED).await;
    assert!(html.contains(en().device_denied_title) && html.contains(&en().device_denied.replace('\'', "&#39;")));

    assert_eq!(refused(&poll(&env, &tv, &device_code).await), (400, "access_denied"));
    let mut again = DeviceBrowser::new(&env, &env.mock_wechat, PHONE);
    again.open("").await;
    let (status, _, html) = again.enter(&user_code).await;
    assert_eq!(status, 400, "answered: the form again");
    assert!(html.contains("role=\"alert\""), "{html}");
}

#[tokio::test]
async fn an_expired_device_code_is_expired_token_and_its_user_code_no_longer_leads_anywhere() {
    let env = TestEnv::new().await;
    let (tv, _) = tv_and_user(&env, "edda").await;
    let (device_code, user_code) = device_codes(&env, &tv, None).await;
    // The sign-in page is open when the code expires (TTL has not deleted the item: the read
    // checks expires_at itself).
    let mut late = DeviceBrowser::new(&env, &env.mock_wechat, PHONE);
    late.open("").await;
    assert_eq!(late.enter(&user_code).await.0, 200);
    set_number(&env, &device_code, "expires_at", wxauth::clock::unix_now() - 1).await;

    assert_eq!(refused(&poll(&env, &tv, &device_code).await), (400, "expired_token"));
    let (status, _, html) = late.sign_in("edda", "edda's password").await;
    assert_eq!(status, 400, "nothing to approve any more: {html}");
    assert_eq!(refused(&poll(&env, &tv, &device_code).await), (400, "expired_token"), "still no tokens");
    let mut browser = DeviceBrowser::new(&env, &env.mock_wechat, PHONE);
    browser.open("").await;
    let (status, _, html) = browser.enter(&user_code).await;
    assert_eq!(status, 400);
    assert!(html.contains(&en().device_unknown_code.replace('\'', "&#39;")), "{html}");
}

#[tokio::test]
async fn a_device_code_is_redeemed_once_even_by_two_polls_at_once() {
    let env = TestEnv::new().await;
    let (tv, _) = tv_and_user(&env, "rhea").await;
    let (device_code, user_code) = device_codes(&env, &tv, None).await;
    assert_eq!(approve_with_password(&env, &user_code, "rhea").await, APPROVED);
    let (first, second) = tokio::join!(poll(&env, &tv, &device_code), poll(&env, &tv, &device_code));
    let statuses = [first.status, second.status];
    assert!(statuses.contains(&200) && statuses.contains(&400), "one wins: {} / {}", first.json, second.json);
    interval_passes(&env, &device_code).await;
    assert_eq!(refused(&poll(&env, &tv, &device_code).await), (400, "invalid_grant"));
}

#[tokio::test]
async fn another_clients_device_code_is_invalid_grant_and_does_not_count_as_a_poll() {
    let env = TestEnv::new().await;
    let (tv, _) = tv_and_user(&env, "olga").await;
    let other = env.device_client(true).await;
    let (device_code, user_code) = device_codes(&env, &tv, None).await;
    assert_eq!(refused(&poll(&env, &other, &device_code).await), (400, "invalid_grant"), "before the answer");
    approve_with_password(&env, &user_code, "olga").await;
    assert_eq!(refused(&poll(&env, &other, &device_code).await), (400, "invalid_grant"), "after it");
    let tokens = poll(&env, &tv, &device_code).await;
    assert_eq!(tokens.status, 200, "the other client's polls neither slowed nor spent it: {}", tokens.json);
    let unknown = poll(&env, &tv, "never-issued").await;
    assert_eq!(refused(&unknown), (400, "invalid_grant"));
    let missing = env.token(&[("grant_type", DEVICE_GRANT), ("client_id", &tv)]).await;
    assert_eq!(refused(&missing), (400, "invalid_request"));
}

#[tokio::test]
async fn a_wrong_unknown_or_used_user_code_shows_the_form_again_and_the_right_one_still_works() {
    let env = TestEnv::new().await;
    let (tv, _) = tv_and_user(&env, "wren").await;
    let (_, used) = device_codes(&env, &tv, None).await;
    approve_with_password(&env, &used, "wren").await;
    let (_, user_code) = device_codes(&env, &tv, None).await;
    let mut browser = DeviceBrowser::new(&env, &env.mock_wechat, PHONE);
    browser.open("").await;
    for wrong in ["nonsense", "AAAA-AAAA", "BCDF-GHJ", &used, "<b>x</b>"] {
        let (status, _, html) = browser.enter(wrong).await;
        assert_eq!(status, 400, "{wrong}");
        assert!(html.contains(&en().device_unknown_code.replace('\'', "&#39;")), "{wrong}: {html}");
        assert!(html.contains("name=\"csrf_token\"") && !html.contains("<b>x"), "the form again, escaped");
    }
    // Typed as people type: lower case, a space instead of the hyphen.
    let typed = user_code.to_lowercase().replace('-', " ");
    let (status, _, html) = browser.enter(&typed).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("name=\"password\""));
}

#[tokio::test]
async fn with_a_browser_session_the_consent_page_is_shown_even_when_consent_was_remembered() {
    let env = TestEnv::new().await;
    let (tv, user) = tv_and_user(&env, "cora").await;
    // Signed in already, through a web client's page: a browser session.
    let web = env.web_client(&[], "openid").await;
    let page = open_sign_in(&env, &code_request(&web, "openid", "s")).await.expect("the page");
    let signed_in = approve(&env, &page, "cora", "cora's password").await;
    let code = location_params(&signed_in).get("code").expect("a code").clone();
    let web_tokens = exchange(&env, &web, &code, PKCE_VERIFIER).await;
    let (_, web_id) = env.verify_id_token(web_tokens.str("id_token"), &web).await;
    // And the device's client allowed before, as far as the table knows.
    let now = wxauth::clock::unix_now();
    let scope = Scope::parse("openid profile offline_access").expect("scope");
    env.app.store.remember_consent(&user, &tv, &scope, now + 3600, now).await.expect("consent");

    let (device_code, user_code) = device_codes(&env, &tv, Some("openid profile")).await;
    let mut browser = DeviceBrowser::new(&env, &env.mock_wechat, PHONE);
    let cookie = session_cookie(&signed_in).expect("a session cookie");
    let (name, value) = cookie.split_once('=').expect("name=value");
    browser.browser.cookies.insert(name.into(), value.into());
    browser.open("").await;
    let (status, location, html) = browser.enter(&user_code).await;
    assert_eq!((status, location), (200, None), "never answered without the user: {html}");
    assert!(html.contains(en().signed_in_as) && html.contains("<strong>cora</strong>"), "{html}");
    assert!(!html.contains("name=\"password\""), "the consent page: {html}");
    assert_eq!(refused(&poll(&env, &tv, &device_code).await), (400, "authorization_pending"));

    let (status, location, _) = browser.decide("approve").await;
    assert_eq!((status, location.as_deref()), (302, Some(APPROVED)));
    interval_passes(&env, &device_code).await;
    let tokens = poll(&env, &tv, &device_code).await;
    assert_eq!(tokens.status, 200, "{}", tokens.json);
    let (_, id) = env.verify_id_token(tokens.str("id_token"), &tv).await;
    assert_eq!((&id["sub"], &id["auth_time"], &id["sid"]), (&web_id["sub"], &web_id["auth_time"], &web_id["sid"]));
}

#[tokio::test]
async fn the_code_form_and_the_sign_in_form_count_only_in_the_browser_that_opened_them() {
    let env = TestEnv::new().await;
    let (tv, _) = tv_and_user(&env, "bo").await;
    let (device_code, user_code) = device_codes(&env, &tv, None).await;
    let mut browser = DeviceBrowser::new(&env, &env.mock_wechat, PHONE);
    browser.open("").await;
    let token = wxauth_tests::hidden_field(&browser.html, "csrf_token");
    let other_site = |cookie: Option<String>| {
        let mut req = form_request("/device", &[("csrf_token", &token), ("user_code", &user_code)]);
        if let Some(cookie) = cookie {
            req.headers_mut().insert("cookie", cookie.parse().expect("cookie"));
        }
        env.dispatch(req)
    };
    let refused_page = |res: wxauth::http::Response| {
        let html = String::from_utf8_lossy(res.body().as_ref()).into_owned();
        assert_eq!(res.status(), 400, "{html}");
        assert!(html.contains("This form was not opened in this browser"), "{html}");
    };
    refused_page(other_site(None).await);
    let mut elsewhere = DeviceBrowser::new(&env, &env.mock_wechat, PHONE);
    elsewhere.open("").await;
    let foreign = elsewhere.browser.cookies.get("wxauth_device_csrf").expect("its cookie").clone();
    refused_page(other_site(Some(format!("wxauth_device_csrf={foreign}"))).await);

    // The sign-in page's form, posted without this browser's cookie.
    assert_eq!(browser.enter(&user_code).await.0, 200);
    let fields = [
        ("request_id", wxauth_tests::hidden_field(&browser.html, "request_id")),
        ("csrf_token", wxauth_tests::hidden_field(&browser.html, "csrf_token")),
        ("username", "bo".into()),
        ("password", "bo's password".into()),
        ("decision", "approve".into()),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    refused_page(env.dispatch(form_request("/oauth/authorize", &fields)).await);
    assert_eq!(refused(&poll(&env, &tv, &device_code).await), (400, "authorization_pending"), "nothing approved");
}

#[tokio::test]
async fn the_device_page_speaks_ui_locales_then_accept_language() {
    let env = TestEnv::new().await;
    let zh = Text::of(Locale::ZhCn);
    let html = |res: wxauth::http::Response| {
        assert_eq!(res.status(), 200);
        String::from_utf8_lossy(res.body().as_ref()).into_owned()
    };
    let asked = html(get_page(&env, "/device?ui_locales=zh-CN", &[("accept-language", "en")]).await);
    assert!(asked.contains("<html lang=\"zh-CN\">") && asked.contains(zh.device_title), "{asked}");
    let browser = html(get_page(&env, "/device", &[("accept-language", "zh-CN,zh;q=0.9")]).await);
    assert!(browser.contains(zh.device_hint));
    let plain = html(get_page(&env, "/device", &[]).await);
    assert!(plain.contains("<html lang=\"en\">") && plain.contains(en().device_hint));
    let result = html(get_page(&env, "/device?result=approved", &[("accept-language", "zh")]).await);
    assert!(result.contains(zh.device_approved) && !result.contains("<form"));
    let res = get_page(&env, "/device", &[]).await;
    assert_eq!(res.headers().get("x-frame-options").and_then(|v| v.to_str().ok()), Some("DENY"));
    assert!(res.headers().get("content-security-policy").is_some());

    let mut switching = DeviceBrowser::new(&env, &env.mock_wechat, PHONE);
    switching.open("").await;
    let (status, _, page) = switching.post("/device", &["csrf_token"], &[("switch_locale", "zh-CN")]).await;
    assert_eq!(status, 200);
    assert!(page.contains(zh.device_title) && page.contains("name=\"csrf_token\""), "{page}");
    let res = env.dispatch(wxauth_tests::raw_request("PUT", "/device", None, lambda_http::Body::Empty)).await;
    assert_eq!(
        (res.status().as_u16(), res.headers().get("allow").and_then(|v| v.to_str().ok())),
        (405, Some("GET, POST"))
    );
}

#[tokio::test]
async fn only_clients_registered_for_the_grant_may_start_it_and_only_within_their_scope() {
    let env = TestEnv::new().await;
    let tv = env.device_client(false).await;
    let web = env.web_client(&[], "openid").await;
    let not_registered = device_authorization(&env, &web, None).await;
    assert_eq!((not_registered.status, not_registered.error()), (400, "unauthorized_client"));
    let polled = wxauth_tests::device::poll(&env, &web, "x").await;
    assert_eq!((polled.status, polled.error()), (400, "unauthorized_client"), "nor poll");
    let too_much = device_authorization(&env, &tv, Some("openid admin")).await;
    assert_eq!((too_much.status, too_much.error()), (400, "invalid_scope"));
    let unknown = device_authorization(&env, "nobody", None).await;
    assert_eq!((unknown.status, unknown.error()), (401, "invalid_client"));
    // No scope: the client's whole registration.
    let (device_code, _) = device_codes(&env, &tv, None).await;
    assert_eq!(stored_grant(&env, &device_code).await.scope.to_string(), "offline_access openid profile");

    // A confidential client authenticates as at the token endpoint.
    let (service, secret) =
        env.client(wxauth::domain::client::ClientKind::Confidential, &[DEVICE_GRANT], &[], "openid", None).await;
    let secret = secret.expect("a secret");
    let ok = env.post_basic("/oauth/device_authorization", &service, &secret, &[("scope", "openid")]).await;
    assert_eq!(ok.status, 200, "{}", ok.json);
    let wrong = env.post_basic("/oauth/device_authorization", &service, "wrong", &[]).await;
    assert_eq!((wrong.status, wrong.header("www-authenticate")), (401, Some("Basic")));
    let bare = device_authorization(&env, &service, None).await;
    assert_eq!((bare.status, bare.error()), (401, "invalid_client"), "a confidential client must authenticate");

    let get = env.call(wxauth_tests::raw_request("GET", "/oauth/device_authorization", None, lambda_http::Body::Empty));
    let get = get.await;
    assert_eq!((get.status, get.header("allow")), (405, Some("POST")));
}

#[tokio::test]
async fn a_device_is_approved_by_scanning_the_mini_program_code_on_the_device_page() {
    let (env, mp) = scan_env(|_| {}).await;
    let tv = env.device_client(false).await;
    let (device_code, user_code) = device_codes(&env, &tv, Some("openid")).await;
    let mut browser = DeviceBrowser::new(&env, &env.mock_wechat, DESKTOP);
    browser.open("").await;
    let (status, _, html) = browser.enter(&user_code).await;
    assert_eq!(status, 200, "{html}");
    let ticket = ticket_of(&html).unwrap_or_else(|| panic!("the sign-in page shows the mini program's code: {html}"));
    let phone = env.login(&mp, "ok-tvscan").await;
    assert_eq!(scan_action(&env, phone.str("access_token"), &ticket, "approve").await.status, 200);
    // What the page's script does once the poll says approved.
    let (status, location, body) = browser.follow(&format!("/oauth/scan/{ticket}/continue")).await;
    assert_eq!((status, location.as_deref()), (302, Some(APPROVED)), "{body}");

    let tokens = poll(&env, &tv, &device_code).await;
    assert_eq!(tokens.status, 200, "{}", tokens.json);
    assert_eq!(tokens.claims()["sub"], phone.claims()["sub"], "the mini program's user");
    let (_, id) = env.verify_id_token(tokens.str("id_token"), &tv).await;
    assert_eq!(id["amr"], serde_json::json!(["mini_program_scan"]));
    assert!(tokens.json.get("refresh_token").is_none(), "this client may not refresh");
}

#[tokio::test]
async fn a_device_is_approved_through_wechats_qr_page_on_a_computer() {
    let env = TestEnv::new().await;
    env.wechat_web_app(WebAppKind::Website).await;
    let tv = env.device_client(true).await;
    let (device_code, user_code) = device_codes(&env, &tv, Some("openid")).await;
    let mut browser = DeviceBrowser::new(&env, &env.mock_wechat, DESKTOP);
    browser.open("").await;
    let (_, _, html) = browser.enter(&user_code).await;
    // Choosing WeChat on our page, which named the client and the scopes, is the confirmation.
    let name = format!("tvqr{}", wxauth::secret::random_id().replace(['-', '_'], "x"));
    let landed = browser.browser.go(&wechat_link(&html), &format!("{name}.u")).await;
    let (status, html) = landed.page();
    assert_eq!(status, 200);
    assert!(html.contains(en().device_approved), "{html}");
    let tokens = poll(&env, &tv, &device_code).await;
    assert_eq!(tokens.status, 200, "{}", tokens.json);
    let (_, id) = env.verify_id_token(tokens.str("id_token"), &tv).await;
    assert_eq!(id["amr"], serde_json::json!(["wechat"]));
}

#[tokio::test]
async fn inside_wechat_the_device_asks_for_consent_after_wechats_sign_in() {
    let env = TestEnv::new().await;
    env.wechat_web_app(WebAppKind::OfficialAccount).await;
    let tv = env.device_client(true).await;
    let (device_code, user_code) = device_codes(&env, &tv, Some("openid")).await;
    let mut browser = DeviceBrowser::new(&env, &env.mock_wechat, IN_WECHAT);
    browser.open("").await;
    let (status, location, _) = browser.enter(&user_code).await;
    assert_eq!(status, 302, "straight to WeChat's authorization");
    let name = format!("tvoa{}", wxauth::secret::random_id().replace(['-', '_'], "x"));
    let landed = browser.browser.go(&location.expect("WeChat"), &format!("{name}.u")).await;
    let Landed::Page(200, consent) = landed else { panic!("the consent page: {landed:?}") };
    assert!(consent.contains(en().allow) && !consent.contains("name=\"password\""), "{consent}");
    assert_eq!(refused(&poll(&env, &tv, &device_code).await), (400, "authorization_pending"));
    browser.html = consent;
    let (status, location, _) = browser.decide("approve").await;
    assert_eq!((status, location.as_deref()), (302, Some(APPROVED)));
    interval_passes(&env, &device_code).await;
    assert_eq!(poll(&env, &tv, &device_code).await.status, 200);
}

// ---- the `oauth2` crate over HTTP, against the local server ------------------------------------

/// The local server (`scripts/test` starts it and exports its URL).
fn base() -> String {
    std::env::var("WXAUTH_LOCAL_URL").expect("WXAUTH_LOCAL_URL is not set: run through scripts/test")
}

/// oauth2's HTTP client: reqwest 0.13 behind its `AsyncHttpClient`, no redirects followed, each
/// answer's `error` (or none) remembered.
struct Http {
    client: reqwest::Client,
    answers: Mutex<Vec<Option<String>>>,
}

impl Http {
    fn new() -> Self {
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        Http { client, answers: Mutex::new(Vec::new()) }
    }

    fn answers(&self) -> Vec<Option<String>> {
        self.answers.lock().expect("answers").clone()
    }
}

impl<'c> AsyncHttpClient<'c> for Http {
    type Error = HttpClientError<reqwest::Error>;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, Self::Error>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let request = reqwest::Request::try_from(request).map_err(Box::new)?;
            let response = self.client.execute(request).await.map_err(Box::new)?;
            let mut builder = oauth2::http::Response::builder().status(response.status());
            for (name, value) in response.headers() {
                builder = builder.header(name, value);
            }
            let body = response.bytes().await.map_err(Box::new)?.to_vec();
            let error = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|json| json["error"].as_str().map(str::to_string));
            self.answers.lock().expect("answers").push(error);
            builder.body(body).map_err(HttpClientError::Http)
        })
    }
}

/// Device authorization and token endpoints set (oauth2's generic order: authorization, device
/// authorization, introspection, revocation, token).
type DeviceClient = BasicClient<
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
>;

/// `demo-device` with the endpoints the metadata document names.
async fn demo_device() -> DeviceClient {
    let url = format!("{}/.well-known/oauth-authorization-server", base());
    let metadata: serde_json::Value = reqwest::get(&url).await.expect("metadata").json().await.expect("JSON");
    let endpoint =
        |name: &str| metadata[name].as_str().unwrap_or_else(|| panic!("no {name} in {metadata}")).to_string();
    let grants = metadata["grant_types_supported"].as_array().expect("grant_types_supported");
    assert!(grants.contains(&DEVICE_GRANT.into()), "the device grant is listed: {grants:?}");
    BasicClient::new(ClientId::new("demo-device".into()))
        .set_device_authorization_url(
            DeviceAuthorizationUrl::new(endpoint("device_authorization_endpoint")).expect("device endpoint"),
        )
        .set_token_uri(TokenUrl::new(endpoint("token_endpoint")).expect("token endpoint"))
}

/// The person at a browser, over HTTP: opens `verification_uri_complete`, continues with the
/// pre-filled code, signs in as the local stack's user `demo` and allows. Returns where the
/// browser was sent.
async fn approve_over_http(details: &StandardDeviceAuthorizationResponse) -> String {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let mut jar: HashMap<String, String> = HashMap::new();
    let keep = |jar: &mut HashMap<String, String>, res: &reqwest::Response| {
        for set in res.headers().get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()) {
            if let Some((name, value)) = set.split(';').next().and_then(|pair| pair.split_once('=')) {
                jar.insert(name.trim().to_string(), value.to_string());
            }
        }
    };
    let cookies = |jar: &HashMap<String, String>| jar.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>();
    let complete = details.verification_uri_complete().expect("verification_uri_complete");
    let page = http.get(complete.secret()).send().await.expect("the device page");
    keep(&mut jar, &page);
    let html = page.text().await.expect("html");
    let user_code = details.user_code().secret();
    assert!(html.contains(&format!("value=\"{user_code}\"")), "pre-filled: {html}");
    let form = [("csrf_token", wxauth_tests::hidden_field(&html, "csrf_token")), ("user_code", user_code.clone())];
    let device_page = format!("{}/device", base());
    let res = http.post(&device_page).header("cookie", cookies(&jar).join("; ")).form(&form).send().await;
    let res = res.expect("the code posted");
    keep(&mut jar, &res);
    let html = res.text().await.expect("html");
    let form = [
        ("request_id", wxauth_tests::hidden_field(&html, "request_id")),
        ("csrf_token", wxauth_tests::hidden_field(&html, "csrf_token")),
        ("username", "demo".to_string()),
        ("password", "demo-password".to_string()),
        ("decision", "approve".to_string()),
    ];
    let action = format!("{}{}", base(), wxauth_tests::form_action(&html));
    let res = http.post(&action).header("cookie", cookies(&jar).join("; ")).form(&form).send().await;
    let res = res.expect("the sign-in posted");
    assert_eq!(res.status(), 302, "signed in and allowed");
    res.headers().get("location").and_then(|v| v.to_str().ok()).expect("Location").to_string()
}

#[tokio::test]
async fn oauth2_runs_the_device_flow_and_slows_down_when_told() {
    let client = demo_device().await;
    let http = Http::new();
    let details: StandardDeviceAuthorizationResponse = client
        .exchange_device_code()
        .add_scope(OAuthScope::new("openid".into()))
        .add_scope(OAuthScope::new("profile".into()))
        .request_async(&http)
        .await
        .unwrap_or_else(|e| panic!("device authorization: {e:?}"));
    assert_eq!(details.verification_uri().as_str(), format!("{}/device", base()));
    assert_eq!(details.interval(), Duration::from_secs(5));
    assert_eq!(details.expires_in(), Duration::from_secs(600));

    // The library polls at once (pending). Its first wait is spent approving instead of waiting,
    // so the second poll comes too early (slow_down): it then waits 5 s longer, and gets tokens.
    let waits = Mutex::new(Vec::new());
    let location = Mutex::new(None);
    let sleep = |interval: Duration| {
        let first = {
            let mut waits = waits.lock().expect("waits");
            waits.push(interval);
            waits.len() == 1
        };
        let (details, location) = (&details, &location);
        async move {
            if first {
                let sent_to = approve_over_http(details).await;
                *location.lock().expect("location") = Some(sent_to);
            } else {
                tokio::time::sleep(interval).await;
            }
        }
    };
    let tokens = client
        .exchange_device_access_token(&details)
        .request_async(&http, sleep, None)
        .await
        .unwrap_or_else(|e| panic!("the device's tokens: {e:?}"));
    let answers = http.answers();
    let errors: Vec<Option<&str>> = answers.iter().map(|e| e.as_deref()).collect();
    assert_eq!(errors, [None, Some("authorization_pending"), Some("slow_down"), None], "device code, polls");
    assert_eq!(*waits.lock().expect("waits"), [Duration::from_secs(5), Duration::from_secs(10)]);
    let sent_to = location.lock().expect("location").clone();
    assert_eq!(sent_to, Some(format!("{}/device?result=approved", base())));
    assert!(tokens.refresh_token().is_some(), "demo-device may refresh");
    let scopes: Vec<String> = tokens.scopes().map(|s| s.iter().map(|s| s.to_string()).collect()).unwrap_or_default();
    assert_eq!(scopes, ["openid", "profile"]);

    // Redeemed: polled again, the code is spent.
    let again =
        client.exchange_device_access_token(&details).request_async(&http, |_| async {}, Some(Duration::from_secs(5)));
    match again.await {
        Err(RequestTokenError::ServerResponse(e)) => {
            assert_eq!(e.error().to_string(), "invalid_grant", "{e:?}")
        }
        other => panic!("a redeemed device code: {other:?}"),
    }
}

#[tokio::test]
async fn oauth2_is_told_when_the_device_code_expired() {
    let client = demo_device().await;
    let http = Http::new();
    let details: StandardDeviceAuthorizationResponse =
        client.exchange_device_code().request_async(&http).await.unwrap_or_else(|e| panic!("{e:?}"));
    // Ten minutes pass: the local server's table is moto's too.
    let table = std::env::var("WXAUTH_TABLE").expect("WXAUTH_TABLE: run through scripts/test");
    let sdk = wxauth::aws::sdk_config(wxauth::config::AwsTimeouts::from_env().expect("timeouts")).await;
    let key = wxauth::store::device_grants::grant_key(&wxauth::secret::hash(details.device_code().secret()));
    wxauth_tests::expire_item_in(&aws_sdk_dynamodb::Client::new(&sdk), &table, &key).await;
    let polled = client.exchange_device_access_token(&details).request_async(&http, |_| async {}, None).await;
    match polled {
        Err(RequestTokenError::ServerResponse(e)) => {
            assert_eq!(*e.error(), DeviceCodeErrorResponseType::ExpiredToken, "{e:?}")
        }
        other => panic!("an expired device code: {other:?}"),
    }
}

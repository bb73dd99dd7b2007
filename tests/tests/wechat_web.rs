//! Sign in with WeChat on the web: the Official Account's web authorization inside WeChat
//! (`snsapi_base` first, `snsapi_userinfo` for a new openid), the website app's QR link on
//! desktops, one user per person by unionid with the mini program, and what must never sign
//! anybody in (a tampered or foreign `state`, another browser, a code of another app, an openid
//! in the query).

use serde_json::Value;
use wxauth::domain::wechat_web::{VerifyFile, WebAppKind};
use wxauth_tests::sign_in::{PKCE_VERIFIER, code_request, exchange, hidden_field};
use wxauth_tests::wechat_web::{DESKTOP, IN_WECHAT, IntoPage, Landed, PHONE, WechatBrowser, wechat_link};
use wxauth_tests::{ISSUER, TestEnv, form_request};

const SCOPE: &str = "openid profile";

fn id_claims(tokens: &wxauth_tests::Reply) -> Value {
    jsonwebtoken::dangerous::insecure_decode::<Value>(tokens.str("id_token")).expect("id token").claims
}

/// The `sub` of the ID token that `code` gets `client_id`.
async fn sub_of(env: &TestEnv, client_id: &str, code: &str) -> String {
    let tokens = exchange(env, client_id, code, PKCE_VERIFIER).await;
    assert_eq!(tokens.status, 200, "{}", tokens.json);
    id_claims(&tokens)["sub"].as_str().expect("sub").to_string()
}

/// The `sub` the mini program gives the person whose WeChat login code is `code`.
async fn mini_program_sub(env: &TestEnv, code: &str) -> String {
    let mp = env.miniprogram().await;
    let tokens = env.login(&mp, code).await;
    jsonwebtoken::dangerous::insecure_decode::<Value>(tokens.str("access_token")).expect("jwt").claims["sub"]
        .as_str()
        .expect("sub")
        .to_string()
}

/// A unique person name for the mock WeChat.
fn person(prefix: &str) -> String {
    format!("{prefix}{}", wxauth::secret::random_id().replace(['-', '_'], "x"))
}

/// Approves the consent page `html` (shown to a WeChat user signed in already) in `browser`.
async fn approve_consent(
    env: &TestEnv,
    browser: &WechatBrowser<'_>,
    html: &str,
) -> std::collections::HashMap<String, String> {
    let form = [
        ("request_id", hidden_field(html, "request_id")),
        ("csrf_token", hidden_field(html, "csrf_token")),
        ("decision", "approve".to_string()),
    ];
    let fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut req = form_request("/oauth/authorize", &fields);
    let cookie = browser.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
    req.headers_mut().insert("cookie", cookie.parse().expect("cookie"));
    wxauth_tests::sign_in::location_params(&env.dispatch(req).await)
}

#[tokio::test]
async fn inside_wechat_a_new_openid_steps_up_to_userinfo_once_and_returns_silently() {
    let env = TestEnv::new().await;
    let oa = env.wechat_web_app(WebAppKind::OfficialAccount).await;
    let client_id = env.web_client(&[], SCOPE).await;
    let name = person("ann");
    let mp_sub = mini_program_sub(&env, &format!("ok-{name}.u")).await;

    let mut phone = WechatBrowser::new(&env, IN_WECHAT);
    let (status, html) = phone.sign_in(&code_request(&client_id, SCOPE, "st1"), &format!("{name}.u")).await.page();
    // Our page was never shown before WeChat: the consent page comes after, for the new session.
    assert_eq!(status, 200, "{html}");
    assert!(html.contains(&name), "named by the nickname WeChat gave: {html}");
    assert!(!html.contains("name=\"password\""), "{html}");
    assert_eq!(phone.callbacks.len(), 2, "snsapi_base, then snsapi_userinfo for the unionid");
    let params = approve_consent(&env, &phone, &html).await;
    assert_eq!(params["state"], "st1");
    assert_eq!(sub_of(&env, &client_id, &params["code"]).await, mp_sub, "one person, one user, by unionid");
    let calls = env.mock_calls(&oa.appid).await;
    assert_eq!((calls["sns_oauth2_access_token"].as_u64(), calls["sns_userinfo"].as_u64()), (Some(2), Some(1)));

    // A second visit in a fresh WeChat browser (no session of ours; WeChat remembers the user):
    // snsapi_base alone, no page anywhere.
    let mut again = WechatBrowser::new(&env, IN_WECHAT);
    again.wechat_cookies = phone.wechat_cookies.clone();
    let params = again.sign_in(&code_request(&client_id, SCOPE, "st2"), "nobody-else").await.client();
    assert_eq!(again.callbacks.len(), 1);
    assert_eq!(sub_of(&env, &client_id, &params["code"]).await, mp_sub);
    assert_eq!(env.mock_calls(&oa.appid).await["sns_userinfo"].as_u64(), Some(1), "no profile call for a known openid");

    // prompt=consent asks again, after WeChat, although consent is remembered.
    let mut asked = WechatBrowser::new(&env, IN_WECHAT);
    asked.wechat_cookies = phone.wechat_cookies.clone();
    let mut query = code_request(&client_id, SCOPE, "st3");
    query.push(("prompt", "consent"));
    let (status, html) = asked.sign_in(&query, "nobody-else").await.page();
    assert_eq!(status, 200);
    assert!(html.contains("value=\"approve\"") && !html.contains("name=\"password\""), "{html}");
}

#[tokio::test]
async fn on_a_desktop_the_qr_link_signs_in_as_the_mini_program_user_and_counts_as_consent() {
    let env = TestEnv::new().await;
    let web = env.wechat_web_app(WebAppKind::Website).await;
    let client_id = env.web_client(&[], SCOPE).await;
    let name = person("bob");
    let mp_sub = mini_program_sub(&env, &format!("ok-{name}.u")).await;

    let mut desktop = WechatBrowser::new(&env, DESKTOP);
    let (status, html) = desktop.sign_in(&code_request(&client_id, SCOPE, "qr"), "unused").await.page();
    assert_eq!(status, 200);
    assert!(html.contains("name=\"password\""), "the password stays on offer: {html}");
    let link = wechat_link(&html);
    let state = hidden_field(&html, "request_id");
    let expected = format!(
        "{}/connect/qrconnect?appid={}&redirect_uri={}&response_type=code&scope=snsapi_login&state={state}#wechat_redirect",
        env.mock_wechat, web.appid, "https%3A%2F%2Fauth.wxauth.test%2Foauth%2Fwechat%2Fcallback"
    );
    assert_eq!(link, expected, "WeChat's parameter order and #wechat_redirect");
    let params = desktop.go(&link, &format!("{name}.u")).await.client();
    assert_eq!(params["state"], "qr");
    let tokens = exchange(&env, &client_id, &params["code"], PKCE_VERIFIER).await;
    assert_eq!(id_claims(&tokens)["sub"], mp_sub.as_str());
    assert_eq!(id_claims(&tokens)["amr"], serde_json::json!(["wechat"]));
    // The profile WeChat gave, under scope profile.
    let info = env.protected("GET", "/userinfo", tokens.str("access_token"), None).await;
    assert_eq!(info.json["nickname"], name.as_str());
    assert_eq!(info.json["picture"], format!("https://thirdwx.qlogo.cn/mmopen/mock/{name}/132").as_str());

    // Without a unionid the person is another user than the mini program's.
    let lone = person("cat");
    let lone_mp_sub = mini_program_sub(&env, &format!("ok-{lone}")).await;
    let mut other = WechatBrowser::new(&env, DESKTOP);
    let (_, html) = other.sign_in(&code_request(&client_id, SCOPE, "qr2"), "unused").await.page();
    let params = other.go(&wechat_link(&html), &lone).await.client();
    assert_ne!(sub_of(&env, &client_id, &params["code"]).await, lone_mp_sub);
}

#[tokio::test]
async fn other_phones_get_a_hint_and_no_link_and_wecom_nothing() {
    let env = TestEnv::new().await;
    env.wechat_web_app(WebAppKind::OfficialAccount).await;
    env.wechat_web_app(WebAppKind::Website).await;
    let client_id = env.web_client(&[], SCOPE).await;
    let query = code_request(&client_id, SCOPE, "s");
    let (_, html) = WechatBrowser::new(&env, PHONE).sign_in(&query, "x").await.page();
    assert!(html.contains("open this page in WeChat") && !html.contains("class=\"wechat\""), "{html}");
    let wecom = "Mozilla/5.0 (iPhone) Mobile MicroMessenger/8.0 wxwork/4.1";
    let (_, html) = WechatBrowser::new(&env, wecom).sign_in(&query, "x").await.page();
    assert!(!html.contains("WeChat") || html.contains("name=\"password\""), "{html}");
    assert!(!html.contains("class=\"wechat\"") && !html.contains("open this page in WeChat"));
}

/// A desktop browser at the point where WeChat sends it to our callback (not yet called).
async fn at_callback<'a>(env: &'a TestEnv, client_id: &str, user: &str) -> (WechatBrowser<'a>, String) {
    let mut browser = WechatBrowser::new(env, DESKTOP);
    let (_, html) = browser.sign_in(&code_request(client_id, SCOPE, "cb"), user).await.page();
    browser.stop_at_callback = true;
    let Landed::Callback(path) = browser.go(&wechat_link(&html), user).await else { panic!("no callback") };
    (browser, path)
}

#[tokio::test]
async fn state_tampered_from_another_browser_or_replayed_with_another_code_signs_nobody_in() {
    let env = TestEnv::new().await;
    let web = env.wechat_web_app(WebAppKind::Website).await;
    let client_id = env.web_client(&[], SCOPE).await;
    let name = person("dan");
    let (mut owner, callback) = at_callback(&env, &client_id, &name).await;

    let tampered = callback.replacen("state=", "state=0", 1);
    let (status, html) = owner.ours(&tampered).await.into_page();
    assert_eq!(status, 400, "{html}");
    let mut thief = WechatBrowser::new(&env, DESKTOP);
    let (status, html) = thief.ours(&callback).await.into_page();
    assert_eq!(status, 400);
    assert!(html.contains("not opened in this browser"), "{html}");
    assert!(thief.cookies.keys().all(|k| !k.contains("session")), "nobody signed in");
    assert_eq!(env.mock_calls(&web.appid).await["sns_oauth2_access_token"].as_u64(), Some(0), "WeChat never asked");

    // The owner still signs in with it.
    let (status, location, _) = owner.ours(&callback).await;
    assert_eq!(status, 302);
    assert!(location.expect("location").starts_with(wxauth_tests::sign_in::REDIRECT_URI));
    // A second code for the same state (WeChat approving again) finds the request answered.
    owner.stop_at_callback = false;
    let state = callback.split("state=").nth(1).expect("state").to_string();
    let again = format!(
        "{}/connect/qrconnect?appid={}&redirect_uri=https%3A%2F%2Fauth.wxauth.test%2Foauth%2Fwechat%2Fcallback&response_type=code&scope=snsapi_login&state={state}",
        env.mock_wechat, web.appid
    );
    let (status, html) = owner.go(&again, &name).await.page();
    assert_eq!(status, 400);
    assert!(html.contains("already completed"), "{html}");
}

#[tokio::test]
async fn the_callback_twice_with_one_code_is_one_sign_in_and_no_error_page() {
    let env = TestEnv::new().await;
    let web = env.wechat_web_app(WebAppKind::Website).await;
    let client_id = env.web_client(&[], SCOPE).await;
    let name = person("eve");
    // One after the other (the browser dropped the first answer) and both at once.
    for concurrent in [false, true] {
        let (mut browser, callback) = at_callback(&env, &client_id, &name).await;
        let mut twin = WechatBrowser::new(&env, DESKTOP);
        twin.cookies = browser.cookies.clone();
        let (first, second) = if concurrent {
            tokio::join!(browser.ours(&callback), twin.ours(&callback))
        } else {
            let first = browser.ours(&callback).await;
            (first, twin.ours(&callback).await)
        };
        for (status, location, html) in [&first, &second] {
            assert_eq!(*status, 302, "{html}");
            assert!(location.as_deref().expect("location").starts_with(wxauth_tests::sign_in::REDIRECT_URI));
        }
        let session = |b: &WechatBrowser| b.cookies.iter().find(|(k, _)| k.contains("session")).map(|(_, v)| v.clone());
        assert_eq!(session(&browser), session(&twin), "one session");
        let code = |location: &Option<String>| {
            let query = location.as_deref().expect("location").split_once('?').expect("query").1.to_string();
            serde_urlencoded::from_str::<Vec<(String, String)>>(&query)
                .expect("params")
                .into_iter()
                .find(|(k, _)| k == "code")
                .expect("code")
                .1
        };
        let subs = (sub_of(&env, &client_id, &code(&first.1)).await, sub_of(&env, &client_id, &code(&second.1)).await);
        assert_eq!(subs.0, subs.1, "one user");
    }
    assert_eq!(env.mock_calls(&web.appid).await["sns_oauth2_access_token"].as_u64(), Some(2), "one exchange per code");
}

#[tokio::test]
async fn a_code_of_another_app_and_an_openid_in_the_query_are_not_taken() {
    let env = TestEnv::new().await;
    let web = env.wechat_web_app(WebAppKind::Website).await;
    let other = env.wechat_web_app(WebAppKind::Website).await;
    let client_id = env.web_client(&[], SCOPE).await;

    // The victim's request, approved at WeChat for another app: its code is not ours.
    let mut browser = WechatBrowser::new(&env, DESKTOP);
    let (_, html) = browser.sign_in(&code_request(&client_id, SCOPE, "x"), "unused").await.page();
    // The page links one of the two apps: its code goes to the other.
    let link = wechat_link(&html);
    let (ours, theirs) = if link.contains(&web.appid) { (&web, &other) } else { (&other, &web) };
    let link = link.replace(&ours.appid, &theirs.appid);
    let (status, html) = browser.go(&link, &person("fay")).await.page();
    assert_eq!(status, 400, "{html}");
    assert!(html.contains("Sign in with WeChat again"), "{html}");
    // ...and the same request still signs in with a right code.
    let name = person("gus");
    let params = browser.go(&wechat_link(&html), &name).await.client();
    let sub = sub_of(&env, &client_id, &params["code"]).await;

    // An attacker's openid (and unionid) added to the query change nothing.
    let victim = person("hal");
    let (mut b, callback) = at_callback(&env, &client_id, &victim).await;
    let forged = format!("{callback}&openid=openid-{name}-{}&unionid=unionid-{name}", ours.appid);
    let (status, location, _) = b.ours(&forged).await;
    assert_eq!(status, 302);
    let query = location.expect("location").split_once('?').expect("query").1.to_string();
    let params: std::collections::HashMap<String, String> = serde_urlencoded::from_str(&query).expect("params");
    assert_ne!(sub_of(&env, &client_id, &params["code"]).await, sub);
}

#[tokio::test]
async fn wechat_refusals_are_pages_that_say_what_to_do_and_link_back() {
    let env = TestEnv::new().await;
    env.wechat_web_app(WebAppKind::Website).await;
    let client_id = env.web_client(&[], SCOPE).await;
    let cases: [(&str, u16, &str); 6] = [
        ("err-40163", 400, "already used"),
        ("err-42003", 400, "took too long"),
        ("err-45011", 429, "try again in a minute"),
        ("err--1", 503, "did not answer"),
        ("err-40125", 502, "did not accept this site"),
        ("zed.snap", 403, "使用完整服务"),
    ];
    for (user, status, words) in cases {
        let mut browser = WechatBrowser::new(&env, DESKTOP);
        let (_, html) = browser.sign_in(&code_request(&client_id, SCOPE, "e"), "unused").await.page();
        let (got, page) = browser.go(&wechat_link(&html), user).await.page();
        assert_eq!(got, status, "{user}: {page}");
        assert!(page.contains(words), "{user}: {page}");
        assert!(page.contains("class=\"wechat\""), "{user}: a link back to WeChat");
        assert!(browser.cookies.keys().all(|k| !k.contains("session")), "{user}: nobody signed in");
    }
    // busy once (-1), then fine: retried once.
    let mut browser = WechatBrowser::new(&env, DESKTOP);
    let (_, html) = browser.sign_in(&code_request(&client_id, SCOPE, "b"), "unused").await.page();
    browser.go(&wechat_link(&html), &format!("busy-{}", person("ivy"))).await.client();
    // Declined at WeChat: back with only the state.
    let mut browser = WechatBrowser::new(&env, DESKTOP);
    let (_, html) = browser.sign_in(&code_request(&client_id, SCOPE, "d"), "unused").await.page();
    let (status, page) =
        browser.ours(&format!("/oauth/wechat/callback?state={}", hidden_field(&html, "request_id"))).await.into_page();
    assert_eq!(status, 400);
    assert!(page.contains("WeChat sign-in was not allowed"), "{page}");
}

#[tokio::test]
async fn concurrent_first_sign_ins_in_the_mini_program_and_on_the_web_make_one_user() {
    let env = TestEnv::new().await;
    env.wechat_web_app(WebAppKind::Website).await;
    let client_id = env.web_client(&[], SCOPE).await;
    let mp = env.miniprogram().await;
    for _ in 0..4 {
        let name = person("jo");
        let mut browser = WechatBrowser::new(&env, DESKTOP);
        let (_, html) = browser.sign_in(&code_request(&client_id, SCOPE, "c"), "unused").await.page();
        let link = wechat_link(&html);
        let (code, user) = (format!("ok-{name}.u"), format!("{name}.u"));
        let (web, mini) = tokio::join!(browser.go(&link, &user), env.login(&mp, &code));
        let mp_sub =
            jsonwebtoken::dangerous::insecure_decode::<Value>(mini.str("access_token")).expect("jwt").claims["sub"]
                .clone();
        assert_eq!(sub_of(&env, &client_id, &web.client()["code"]).await, mp_sub.as_str().expect("sub"));
    }
}

#[tokio::test]
async fn a_unionid_held_by_another_user_is_never_merged() {
    let env = TestEnv::new().await;
    env.wechat_web_app(WebAppKind::Website).await;
    let client_id = env.web_client(&[], SCOPE).await;
    let name = person("kim");
    let mp_sub = mini_program_sub(&env, &format!("ok-{name}.u")).await;
    let sign_in = |user: String| {
        let env = &env;
        let client_id = client_id.clone();
        async move {
            let mut browser = WechatBrowser::new(env, DESKTOP);
            let (_, html) = browser.sign_in(&code_request(&client_id, SCOPE, "u"), "unused").await.page();
            let params = browser.go(&wechat_link(&html), &user).await.client();
            sub_of(env, &client_id, &params["code"]).await
        }
    };
    // The website app first saw this openid without a unionid (an unbound app, say)...
    let web_sub = sign_in(name.clone()).await;
    assert_ne!(web_sub, mp_sub);
    // ...then with the unionid the mini program's user holds: the two stay apart.
    assert_eq!(sign_in(format!("{name}.u")).await, web_sub);
    let user = env.app.store.user(&web_sub).await.expect("read").expect("user");
    assert_eq!(user.unionid, None);
}

#[tokio::test]
async fn the_verification_file_is_served_at_the_root_and_nothing_else_is() {
    let env = TestEnv::new().await;
    let new = wxauth_provision::NewWebApp {
        kind: WebAppKind::OfficialAccount,
        appid: "wxverifyfile00001".into(),
        secret: "s".into(),
        domain: "auth.wxauth.test".into(),
        issuer: Some(ISSUER.into()),
        verify_file: VerifyFile::parse("MP_verify_Ab12Cd34.txt", "Ab12Cd34"),
    };
    let data_key = wxauth::keys::data_key::DataKey::new(env.kms.clone(), env.app.config.kms_data_key_id.clone());
    wxauth_provision::create_wechat_web_app(&env.app.store, &data_key, new, 0).await.expect("app");
    let res =
        env.dispatch(wxauth_tests::raw_request("GET", "/MP_verify_Ab12Cd34.txt", None, lambda_http::Body::Empty)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/plain; charset=utf-8");
    assert_eq!(res.body().as_ref(), b"Ab12Cd34");
    for path in ["/MP_verify_other.txt", "/favicon.ico", "/MP_verify_x.html"] {
        let res = env.dispatch(wxauth_tests::raw_request("GET", path, None, lambda_http::Body::Empty)).await;
        assert_eq!(res.status(), 404, "{path}");
    }
    let res = env
        .dispatch(wxauth_tests::raw_request("POST", "/MP_verify_Ab12Cd34.txt", None, lambda_http::Body::Empty))
        .await;
    assert_eq!(res.status(), 405);
}

#[tokio::test]
async fn the_domain_must_be_the_issuers_host() {
    let env = TestEnv::new().await;
    let data_key = wxauth::keys::data_key::DataKey::new(env.kms.clone(), env.app.config.kms_data_key_id.clone());
    let new = |domain: &str| wxauth_provision::NewWebApp {
        kind: WebAppKind::Website,
        appid: "wxdomaincheck0001".into(),
        secret: "s".into(),
        domain: domain.into(),
        issuer: Some(ISSUER.into()),
        verify_file: None,
    };
    for bad in ["other.example", "https://auth.wxauth.test", "auth.wxauth.test:443"] {
        assert!(
            wxauth_provision::create_wechat_web_app(&env.app.store, &data_key, new(bad), 0).await.is_err(),
            "{bad}"
        );
    }
    wxauth_provision::create_wechat_web_app(&env.app.store, &data_key, new("auth.wxauth.test"), 0).await.expect("ok");
    assert!(
        wxauth_provision::create_wechat_web_app(&env.app.store, &data_key, new("auth.wxauth.test"), 0).await.is_err(),
        "once"
    );
}

#[tokio::test]
async fn wechat_repeating_the_step_up_callback_gets_the_same_step_up() {
    let env = TestEnv::new().await;
    let oa = env.wechat_web_app(WebAppKind::OfficialAccount).await;
    let client_id = env.web_client(&[], SCOPE).await;
    let mut phone = WechatBrowser::new(&env, IN_WECHAT);
    phone.stop_at_callback = true;
    let Landed::Callback(base) = phone.sign_in(&code_request(&client_id, SCOPE, "r"), &person("lu")).await else {
        panic!("no callback")
    };
    let (first, second) = (phone.ours(&base).await, phone.ours(&base).await);
    for (status, location, html) in [&first, &second] {
        assert_eq!(*status, 302, "{html}");
        assert!(location.as_deref().expect("location").contains("scope=snsapi_userinfo"));
    }
    assert_eq!(first.1, second.1);
    assert_eq!(env.mock_calls(&oa.appid).await["sns_oauth2_access_token"].as_u64(), Some(1));
}

#[tokio::test]
async fn a_replayed_callback_issues_nothing_after_a_deny_or_in_a_browser_with_another_session() {
    let env = TestEnv::new().await;
    env.wechat_web_app(WebAppKind::OfficialAccount).await;
    env.wechat_web_app(WebAppKind::Website).await;
    let client_id = env.web_client(&[], SCOPE).await;

    // Inside WeChat: the consent page after WeChat, denied; the callback fetched again (Back).
    let mut phone = WechatBrowser::new(&env, IN_WECHAT);
    let (_, html) = phone.sign_in(&code_request(&client_id, SCOPE, "d"), &format!("{}.u", person("mo"))).await.page();
    let form = [
        ("request_id", hidden_field(&html, "request_id")),
        ("csrf_token", hidden_field(&html, "csrf_token")),
        ("decision", "deny".to_string()),
    ];
    let fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut req = form_request("/oauth/authorize", &fields);
    let cookie = phone.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
    req.headers_mut().insert("cookie", cookie.parse().expect("cookie"));
    let denied = wxauth_tests::sign_in::location_params(&env.dispatch(req).await);
    assert_eq!(denied["error"], "access_denied");
    let last = phone.callbacks.last().expect("a callback").clone();
    let (status, html) = phone.ours(&last).await.into_page();
    assert_eq!(status, 400, "no code after a deny: {html}");

    // On a desktop: signed in; then another session in that browser; the callback again.
    let (mut desktop, callback) = at_callback(&env, &client_id, &person("ned")).await;
    let (status, ..) = desktop.ours(&callback).await;
    assert_eq!(status, 302);
    let session_name = desktop.cookies.keys().find(|k| k.contains("session")).expect("a session").clone();
    desktop.cookies.insert(session_name, "another-sessions-cookie-value-0000000000000".into());
    let (status, html) = desktop.ours(&callback).await.into_page();
    assert_eq!(status, 400, "the first sign-in is not brought back over another session: {html}");
}

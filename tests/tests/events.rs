//! Each `events/*.json` (what `sam local invoke -e` and `cargo lambda invoke --data-file` send)
//! through `lambda_http::request::from_str` into its handler: the samples stay valid.

use wxauth::domain::refresh_token::{Family, RefreshToken};
use wxauth::scope::Scope;
use wxauth_tests::{TestEnv, reply};

fn event(name: &str) -> lambda_http::Request {
    let path = format!("{}/../events/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    lambda_http::request::from_str(&text).unwrap_or_else(|e| panic!("{path} is not an API Gateway event: {e}"))
}

fn form_value(req: &lambda_http::Request, name: &str) -> String {
    let form = wxauth::params::Params::parse(req.body().as_ref()).expect("form body");
    form.get(name).unwrap_or_else(|| panic!("no {name} in the event")).to_string()
}

#[tokio::test]
async fn the_wechat_login_event_logs_in() {
    let env = TestEnv::new().await;
    let req = event("token-wechat.json");
    // The event names the demo client: register it here, on this test's own appid.
    let mp = env.miniprogram().await;
    let client_id = form_value(&req, "client_id");
    assert_eq!(client_id, "demo-miniprogram");
    let body =
        String::from_utf8(req.body().as_ref().to_vec()).expect("utf8").replace("demo-miniprogram", &mp.client_id);
    let (parts, _) = req.into_parts();
    let req = lambda_http::Request::from_parts(parts, lambda_http::Body::Text(body));
    let reply = env.token_request(req).await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    assert_eq!(reply.str("openid"), "openid-event-demo");
}

#[tokio::test]
async fn the_refresh_event_rotates_its_sample_token() {
    let env = TestEnv::new().await;
    let mp = env.miniprogram().await;
    let req = event("token-refresh.json");
    let sample = form_value(&req, "refresh_token");
    let now = wxauth::clock::unix_now();
    // Store the sample token as if it had been issued to this test's client.
    let record = RefreshToken {
        hash: wxauth::secret::hash(&sample),
        family_id: "event-family".into(),
        client_id: mp.client_id.clone(),
        subject: "event-user".into(),
        scope: Scope::parse("openid").expect("scope"),
        auth_time: None, // as tokens stored before auth_time was recorded
        sid: None,
        method: None,
        issued_at: now,
        expires_at: now + 600,
        used_at: None,
        replaced_by: None,
        superseded: false,
    };
    let family = Family {
        id: "event-family".into(),
        client_id: mp.client_id.clone(),
        subject: "event-user".into(),
        session_sid: None,
        revoked: false,
        created_at: now,
        expires_at: now + 600,
    };
    env.app.store.create_family(&family, &record).await.expect("store the sample token");
    let body =
        String::from_utf8(req.body().as_ref().to_vec()).expect("utf8").replace("demo-miniprogram", &mp.client_id);
    let (parts, _) = req.into_parts();
    let reply = env.token_request(lambda_http::Request::from_parts(parts, lambda_http::Body::Text(body))).await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    assert_eq!(reply.str("scope"), "openid");
}

#[tokio::test]
async fn the_discovery_events_are_answered() {
    let env = TestEnv::new().await;
    let jwks = reply(jwks::handle(&env.app, event("jwks.json")).await);
    assert_eq!(jwks.status, 200);
    assert_eq!(jwks.json["keys"].as_array().map(Vec::len), Some(1));
    let metadata = reply(metadata::handle(&env.app, event("metadata.json")).await);
    assert_eq!(metadata.status, 200);
    assert_eq!(metadata.json["issuer"], wxauth_tests::ISSUER);
    let openid = reply(metadata::handle(&env.app, event("metadata-openid.json")).await);
    assert_eq!(openid.status, 200);
    assert_eq!(openid.json, metadata.json, "OpenID Connect Discovery: the same document");
}

#[tokio::test]
async fn the_protected_resource_events_reach_their_handlers() {
    // Their sample bearer token is not one this deployment issued: each handler must parse the
    // event and answer 401 invalid_token, the way `sam local invoke` would show it.
    let env = TestEnv::new().await;
    let replies = [
        reply(userinfo::handle(&env.app, event("userinfo.json")).await),
        reply(wechat_decrypt::handle(&env.app, event("wechat-decrypt.json")).await),
        reply(wechat_phone::handle(&env.app, event("wechat-phone.json")).await),
        reply(wechat_session::handle(&env.app, event("wechat-session.json")).await),
        reply(wechat_scan::handle(&env.app, event("wechat-scan.json")).await),
    ];
    for r in replies {
        assert_eq!((r.status, r.error()), (401, "invalid_token"), "{}", r.json);
    }
}

#[tokio::test]
async fn the_backchannel_logout_event_reaches_its_handler() {
    let (env, _) = TestEnv::with_logout_queue().await;
    let rp = wxauth_tests::relying_party::RelyingParty::start().await;
    let client = env.web_client_with_backchannel(&rp.url).await;
    let path = format!("{}/../events/backchannel-logout.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("the event").replace("demo-web", &client);
    let event: aws_lambda_events::sqs::SqsEvent = serde_json::from_str(&text).expect("an SQS event");
    let answer = backchannel_logout::handle(&env.app, event).await;
    assert!(answer.batch_item_failures.is_empty(), "{answer:?}");
    assert_eq!(rp.tokens().len(), 1, "the sample's notice was delivered");
}

#[tokio::test]
async fn the_web_flow_events_reach_their_handlers() {
    let env = TestEnv::new().await;
    env.create_demo_web().await;
    let page = authorize::handle(&env.app, event("authorize-get.json")).await;
    assert_eq!(page.status(), 200, "the sign-in page for demo-web");
    // A ticket this deployment never made: polled, it is expired like any unknown one.
    let status = reply(authorize::handle(&env.app, event("scan-status.json")).await);
    assert_eq!((status.status, &status.json), (200, &serde_json::json!({"status": "expired"})));
    let signed_out = end_session::handle(&env.app, event("end-session.json")).await;
    assert_eq!(signed_out.status(), 200, "no session: the signed-out page");
    // The samples carry made-up codes, secrets and tokens: each is refused the RFC way.
    let code = reply(token::handle(&env.app, event("token-authorization-code.json")).await);
    assert_eq!((code.status, code.error()), (400, "invalid_grant"));
    let service = reply(token::handle(&env.app, event("token-client-credentials.json")).await);
    assert_eq!((service.status, service.error()), (401, "invalid_client"));
    let introspection = reply(introspect::handle(&env.app, event("introspect.json")).await);
    assert_eq!((introspection.status, introspection.error()), (401, "invalid_client"));
    let revocation = reply(revoke::handle(&env.app, event("revoke.json")).await);
    assert_eq!(
        (revocation.status, revocation.error()),
        (401, "invalid_client"),
        "demo-miniprogram is not registered here"
    );
}

#[tokio::test]
async fn the_device_events_start_a_device_grant_and_show_the_page_with_their_code() {
    let env = TestEnv::new().await;
    env.create_demo_device().await;
    let started = reply(device_authorization::handle(&env.app, event("device-authorization.json")).await);
    assert_eq!(started.status, 200, "{}", started.json);
    assert_eq!(started.str("verification_uri"), format!("{}/device", wxauth_tests::ISSUER));
    let page = authorize::handle(&env.app, event("device-page.json")).await;
    assert_eq!(page.status(), 200);
    let html = String::from_utf8_lossy(page.body().as_ref()).into_owned();
    assert!(html.contains("value=\"BCDF-GHJK\"") && html.contains("<html lang=\"zh-CN\">"), "{html}");
}

#[tokio::test]
async fn the_wechat_callback_event_without_its_pending_request_is_the_expired_page() {
    let env = TestEnv::new().await;
    let res = env.dispatch(event("wechat-callback.json")).await;
    assert_eq!(res.status(), 400);
    assert!(String::from_utf8_lossy(res.body().as_ref()).contains("This sign-in page has expired"));
}

#[tokio::test]
async fn the_verification_file_event_is_served_once_its_app_names_the_file() {
    let env = TestEnv::new().await;
    assert_eq!(env.dispatch(event("verify-file.json")).await.status(), 404);
    let new = wxauth_provision::NewWebApp {
        kind: wxauth::domain::wechat_web::WebAppKind::OfficialAccount,
        appid: "wxeventverify0001".into(),
        secret: "s".into(),
        domain: "auth.wxauth.test".into(),
        issuer: None,
        verify_file: wxauth::domain::wechat_web::VerifyFile::parse("MP_verify_Ab12Cd34.txt", "Ab12Cd34"),
    };
    let data_key = wxauth::keys::data_key::DataKey::new(env.kms.clone(), env.app.config.kms_data_key_id.clone());
    wxauth_provision::create_wechat_web_app(&env.app.store, &data_key, new, 0).await.expect("app");
    let res = env.dispatch(event("verify-file.json")).await;
    assert_eq!((res.status().as_u16(), res.body().as_ref()), (200, b"Ab12Cd34".as_slice()));
}

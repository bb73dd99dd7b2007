//! Client mistakes: every one a 4xx with an RFC 6749 error body, never a 5xx.

use lambda_http::Body;
use wxauth_tests::{TestEnv, WECHAT_GRANT, form_request, raw_request};

fn assert_rfc6749_error(reply: &wxauth_tests::Reply, status: u16, error: &str) {
    assert_eq!((reply.status, reply.error()), (status, error), "{}", reply.json);
    assert!(reply.json["error_description"].as_str().is_some_and(|d| !d.is_empty()));
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.header("cache-control"), Some("no-store"));
}

#[tokio::test]
async fn an_unknown_client_is_invalid_client() {
    let env = TestEnv::new().await;
    let reply = env.token(&[("grant_type", WECHAT_GRANT), ("client_id", "nobody"), ("code", "ok-x")]).await;
    assert_rfc6749_error(&reply, 401, "invalid_client");
}

#[tokio::test]
async fn missing_parameters_are_invalid_request() {
    let env = TestEnv::new().await;
    let mp = env.miniprogram().await;
    let no_code = env.token(&[("grant_type", WECHAT_GRANT), ("client_id", &mp.client_id)]).await;
    assert_rfc6749_error(&no_code, 400, "invalid_request");
    let no_grant = env.token(&[("client_id", &mp.client_id), ("code", "ok-x")]).await;
    assert_rfc6749_error(&no_grant, 400, "invalid_request");
    let no_refresh_token = env.token(&[("grant_type", "refresh_token"), ("client_id", &mp.client_id)]).await;
    assert_rfc6749_error(&no_refresh_token, 400, "invalid_request");
    let no_client = env.token(&[("grant_type", WECHAT_GRANT), ("code", "ok-x")]).await;
    assert_rfc6749_error(&no_client, 401, "invalid_client");
}

#[tokio::test]
async fn a_code_that_cannot_be_a_wechat_code_is_invalid_grant_and_wechat_is_not_asked() {
    let env = TestEnv::new().await;
    let mp = env.miniprogram().await;
    for code in ["x".repeat(60_000), "ok-a b".to_string(), "ok-\u{4e2d}".to_string()] {
        let reply = env.wechat_login(&mp, &code).await;
        assert_rfc6749_error(&reply, 400, "invalid_grant");
    }
    assert_eq!(env.mock_calls(&mp.appid).await["jscode2session"], 0);
}

#[tokio::test]
async fn unknown_and_disallowed_grants_are_refused() {
    let env = TestEnv::new().await;
    let mp = env.miniprogram().await;
    let unknown = env.token(&[("grant_type", "urn:example:made-up"), ("client_id", &mp.client_id)]).await;
    assert_rfc6749_error(&unknown, 400, "unsupported_grant_type");

    let web = format!("web-{}", wxauth::secret::random_id());
    env.create_client(wxauth_provision::NewClient {
        id: web.clone(),
        name: String::new(),
        kind: wxauth::domain::client::ClientKind::Public,
        grant_types: vec![],
        redirect_uris: vec![],
        post_logout_redirect_uris: vec![],
        backchannel_logout: None,
        scope: wxauth::scope::Scope::default(),
        audience: None,
        wechat: None,
    })
    .await;
    let not_allowed = env.token(&[("grant_type", WECHAT_GRANT), ("client_id", &web), ("code", "ok-x")]).await;
    assert_rfc6749_error(&not_allowed, 400, "unauthorized_client");
}

#[tokio::test]
async fn a_scope_beyond_the_clients_is_invalid_scope() {
    let env = TestEnv::new().await;
    let mp = env.miniprogram().await;
    let reply = env.wechat_login_scoped(&mp, "ok-x", "openid admin").await;
    assert_rfc6749_error(&reply, 400, "invalid_scope");
}

#[tokio::test]
async fn wrong_content_types_methods_and_garbage_bodies_are_4xx() {
    let env = TestEnv::new().await;
    let json = raw_request(
        "POST",
        "/oauth/token",
        Some("application/json"),
        Body::Text(r#"{"grant_type":"refresh_token"}"#.into()),
    );
    assert_rfc6749_error(&env.token_request(json).await, 400, "invalid_request");
    let none = raw_request("POST", "/oauth/token", None, Body::Text("grant_type=refresh_token".into()));
    assert_rfc6749_error(&env.token_request(none).await, 400, "invalid_request");
    let get = raw_request("GET", "/oauth/token", None, Body::Empty);
    assert_rfc6749_error(&env.token_request(get).await, 405, "invalid_request");
    let garbage = raw_request(
        "POST",
        "/oauth/token",
        Some("application/x-www-form-urlencoded"),
        Body::Binary(vec![0xff, 0x00, 0x26, 0x3d, 0x3d, 0xfe, 0x80]),
    );
    let reply = env.token_request(garbage).await;
    assert!((400..500).contains(&reply.status), "{}", reply.json);
    let huge = raw_request(
        "POST",
        "/oauth/token",
        Some("application/x-www-form-urlencoded"),
        Body::Text(format!("code={}", "a".repeat(100_000))),
    );
    assert_eq!(env.token_request(huge).await.status, 413);
    let repeated = form_request("/oauth/token", &[("grant_type", "refresh_token"), ("grant_type", "refresh_token")]);
    assert_rfc6749_error(&env.token_request(repeated).await, 400, "invalid_request");
}

#[tokio::test]
async fn basic_and_post_credentials_together_are_invalid_request() {
    use base64::Engine as _;
    let env = TestEnv::new().await;
    let mut req = form_request(
        "/oauth/token",
        &[("grant_type", "refresh_token"), ("client_secret", "x"), ("refresh_token", "y")],
    );
    let basic = base64::engine::general_purpose::STANDARD.encode("someone:secret");
    req.headers_mut().insert("authorization", format!("Basic {basic}").parse().expect("header"));
    assert_rfc6749_error(&env.token_request(req).await, 400, "invalid_request");
}

#[tokio::test]
async fn a_failed_basic_authentication_asks_for_basic() {
    use base64::Engine as _;
    let env = TestEnv::new().await;
    let mut req = form_request("/oauth/token", &[("grant_type", "refresh_token"), ("refresh_token", "y")]);
    let basic = base64::engine::general_purpose::STANDARD.encode("nobody:secret");
    req.headers_mut().insert("authorization", format!("Basic {basic}").parse().expect("header"));
    let reply = env.token_request(req).await;
    assert_rfc6749_error(&reply, 401, "invalid_client");
    assert_eq!(reply.header("www-authenticate"), Some("Basic"));
}

#[tokio::test]
async fn an_oversized_or_unprintable_client_id_is_invalid_client_not_a_500() {
    let env = TestEnv::new().await;
    for id in ["x".repeat(5000), "line\nbreak".to_string()] {
        let reply = env.token(&[("grant_type", WECHAT_GRANT), ("client_id", &id), ("code", "ok-x")]).await;
        assert_rfc6749_error(&reply, 401, "invalid_client");
    }
}

#[tokio::test]
async fn a_405_names_the_allowed_method() {
    let env = TestEnv::new().await;
    let reply = env.token_request(raw_request("PUT", "/oauth/token", None, Body::Empty)).await;
    assert_eq!(reply.status, 405);
    assert_eq!(reply.header("allow"), Some("POST"));
}

/// A form POST to `path` with the raw `Authorization` value `authorization`.
fn with_authorization(path: &str, authorization: &str, params: &[(&str, &str)]) -> lambda_http::Request {
    let mut req = form_request(path, params);
    req.headers_mut().insert("authorization", authorization.parse().expect("header"));
    req
}

#[tokio::test]
async fn a_malformed_basic_attempt_is_401_with_a_basic_challenge() {
    let env = TestEnv::new().await;
    // RFC 6749 §5.2: "If the client attempted to authenticate via the Authorization request
    // header field, the authorization server MUST ... include the WWW-Authenticate response
    // header field". HTTP trims trailing whitespace: "Basic " arrives as "Basic".
    for value in ["Basic", "basic", "Basic\t", "Basic !!!", "Basic Og=="] {
        for path in ["/oauth/token", "/oauth/introspect", "/oauth/revoke"] {
            let reply = env
                .call(with_authorization(path, value, &[("grant_type", "client_credentials"), ("token", "t")]))
                .await;
            assert_rfc6749_error(&reply, 401, "invalid_client");
            assert_eq!(reply.header("www-authenticate"), Some("Basic"), "{path} with {value:?}");
        }
    }
}

#[tokio::test]
async fn a_public_client_at_introspection_is_a_failed_client_authentication() {
    let env = TestEnv::new().await;
    let (public, _) = env.client(wxauth::domain::client::ClientKind::Public, &[], &[], "openid", None).await;
    let basic = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, format!("{public}:"));
    let reply = env.call(with_authorization("/oauth/introspect", &format!("Basic {basic}"), &[("token", "t")])).await;
    assert_rfc6749_error(&reply, 401, "invalid_client");
    assert_eq!(reply.header("www-authenticate"), Some("Basic"), "it tried the Authorization header");
    let reply = env.call(form_request("/oauth/introspect", &[("client_id", &public), ("token", "t")])).await;
    assert_rfc6749_error(&reply, 401, "invalid_client");
    assert_eq!(reply.header("www-authenticate"), None, "it did not");
}

#[tokio::test]
async fn a_wrong_method_is_405_with_allow_before_anything_else() {
    let env = TestEnv::new().await;
    for method in ["PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "HEAD"] {
        let res = env.dispatch(raw_request(method, "/oauth/authorize?client_id=x", None, Body::Empty)).await;
        assert_eq!(res.status(), 405, "{method} /oauth/authorize");
        assert_eq!(res.headers().get("allow").and_then(|v| v.to_str().ok()), Some("GET, POST"));
        assert!(
            res.headers().get("content-type").and_then(|v| v.to_str().ok()).is_some_and(|t| t.starts_with("text/html")),
            "the authorization endpoint's errors are pages"
        );
    }
    // Without a token: the method is checked before authentication.
    for path in ["/wechat/decrypt", "/wechat/phone"] {
        let reply = env.call(raw_request("GET", path, None, Body::Empty)).await;
        assert_rfc6749_error(&reply, 405, "invalid_request");
        assert_eq!(reply.header("allow"), Some("POST"), "{path}");
    }
}

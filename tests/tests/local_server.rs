//! The local server over real HTTP, as `scripts/dev` runs it: the demo client logs in and
//! refreshes. `scripts/test` starts it and exports `WXAUTH_LOCAL_URL`.

use serde_json::Value;

fn base() -> String {
    std::env::var("WXAUTH_LOCAL_URL")
        .expect("WXAUTH_LOCAL_URL is not set: run the integration tests through scripts/test")
}

async fn post_form(path: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let res = reqwest::Client::new()
        .post(format!("{}{path}", base()))
        .form(form)
        .send()
        .await
        .expect("local server reachable");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_demo_mini_program_logs_in_and_refreshes_over_http() {
    let code = format!("ok-http-{}", wxauth::tokens::secret::random_id());
    let (status, login) = post_form(
        "/oauth/token",
        &[("grant_type", wxauth_tests::WECHAT_GRANT), ("client_id", "demo-miniprogram"), ("code", &code)],
    )
    .await;
    assert_eq!(status, 200, "{login}");
    let (status, refreshed) = post_form(
        "/oauth/token",
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "demo-miniprogram"),
            ("refresh_token", login["refresh_token"].as_str().expect("refresh_token")),
        ],
    )
    .await;
    assert_eq!(status, 200, "{refreshed}");
}

#[tokio::test]
async fn discovery_documents_are_served_and_cacheable() {
    let client = reqwest::Client::new();
    for path in ["/.well-known/oauth-authorization-server", "/.well-known/jwks.json"] {
        let res = client.get(format!("{}{path}", base())).send().await.expect("reachable");
        assert_eq!(res.status(), 200, "{path}");
        let cache = res.headers().get("cache-control").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        assert!(cache.starts_with("public, max-age="), "{path}: {cache}");
    }
    let metadata: Value = client
        .get(format!("{}/.well-known/oauth-authorization-server", base()))
        .send()
        .await
        .expect("reachable")
        .json()
        .await
        .expect("json");
    assert_eq!(metadata["issuer"], base().as_str());
    assert_eq!(metadata["token_endpoint"], format!("{}/oauth/token", base()));
}

#[tokio::test]
async fn an_unknown_route_is_a_json_404() {
    let res = reqwest::Client::new().get(format!("{}/nope", base())).send().await.expect("reachable");
    assert_eq!(res.status(), 404);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["error"], "not_found");
}

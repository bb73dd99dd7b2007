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
    let code = format!("ok-http-{}", wxauth::secret::random_id());
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

/// Sends `raw` bytes to the local server as they are and reads the whole answer.
async fn raw_exchange(raw: &[u8]) -> (u16, String, String) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let authority = base().trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(&authority).await.expect("local server reachable");
    // The server may answer (and close) before it has read all of a large request.
    let _ = stream.write_all(raw).await;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let text = String::from_utf8_lossy(&answer).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, head.to_lowercase(), body.to_string())
}

#[tokio::test]
async fn what_hyper_would_refuse_bare_is_answered_as_the_routes_answer() {
    let big_query = format!("GET /oauth/token?q={} HTTP/1.1\r\nhost: x\r\n\r\n", "a".repeat(100_000));
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("a control character in the target", b"GET /oauth/token?a=\x01b HTTP/1.1\r\nhost: x\r\n\r\n".to_vec(), 400),
        (
            "a NUL in a header",
            b"POST /oauth/token HTTP/1.1\r\nhost: x\r\nx-a: b\x00c\r\ncontent-length: 0\r\n\r\n".to_vec(),
            400,
        ),
        ("a 100 KB query", big_query.into_bytes(), 414),
    ];
    for (what, raw, status) in cases {
        let (got, head, body) = raw_exchange(&raw).await;
        assert_eq!(got, status, "{what}: {head}");
        assert!(head.contains("content-type: application/json"), "{what}: {head}");
        let json: Value = serde_json::from_str(&body).unwrap_or_else(|_| panic!("{what}: a JSON body, not {body:?}"));
        assert_eq!(json["error"], "invalid_request", "{what}");
    }
    let (got, head, body) = raw_exchange(b"GET /oauth/authorize?a=\x01 HTTP/1.1\r\nhost: x\r\n\r\n").await;
    assert_eq!(got, 400);
    assert!(head.contains("content-type: text/html") && body.contains("<html"), "the authorization endpoint's page");

    // A body over the local server's 1 MiB, through a real client.
    let res = reqwest::Client::new()
        .post(format!("{}/oauth/token", base()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(vec![b'a'; 1024 * 1024 + 1])
        .send()
        .await
        .expect("local server reachable");
    assert_eq!(res.status(), 413);
    let json: Value = res.json().await.expect("a JSON body");
    assert_eq!(json["error"], "invalid_request");
}

//! Backend faults: an unreachable DynamoDB or KMS is a 503 with a clear, secret-free error,
//! never a 500 and never a hang.

use wxauth::App;
use wxauth_tests::{TestEnv, WECHAT_GRANT, reply};

/// The same deployment, but with DynamoDB, KMS and SQS at a port where nothing listens.
async fn with_aws_down(env: &TestEnv) -> App {
    let sdk = wxauth::aws::sdk_config(env.app.config.aws_timeouts).await;
    let dead = "http://127.0.0.1:9";
    let dynamodb =
        aws_sdk_dynamodb::Client::from_conf(aws_sdk_dynamodb::config::Builder::from(&sdk).endpoint_url(dead).build());
    let kms = aws_sdk_kms::Client::from_conf(aws_sdk_kms::config::Builder::from(&sdk).endpoint_url(dead).build());
    let sqs = aws_sdk_sqs::Client::from_conf(aws_sdk_sqs::config::Builder::from(&sdk).endpoint_url(dead).build());
    App::from_clients(env.app.config.clone(), wxauth::app::AwsClients { dynamodb, kms, sqs }).expect("app")
}

#[tokio::test]
async fn an_unreachable_dynamodb_is_503_temporarily_unavailable() {
    let env = TestEnv::new().await;
    let mp = env.miniprogram().await;
    let down = with_aws_down(&env).await;
    let req = wxauth_tests::form_request(
        "/oauth/token",
        &[("grant_type", WECHAT_GRANT), ("client_id", &mp.client_id), ("code", "ok-olga")],
    );
    let reply = reply(token::handle(&down, req).await);
    assert_eq!((reply.status, reply.error()), (503, "temporarily_unavailable"), "{}", reply.json);
    assert!(reply.header("retry-after").is_some());
    assert!(!reply.json.to_string().contains("127.0.0.1"), "no infrastructure detail in the body");
}

#[tokio::test]
async fn the_jwks_is_503_when_its_table_cannot_be_read() {
    let env = TestEnv::new().await;
    let down = with_aws_down(&env).await;
    let req = wxauth_tests::raw_request("GET", "/.well-known/jwks.json", None, lambda_http::Body::Empty);
    let reply = reply(jwks::handle(&down, req).await);
    assert_eq!((reply.status, reply.error()), (503, "temporarily_unavailable"));
}

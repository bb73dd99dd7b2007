//! The token endpoint's `client_credentials` grant: confidential clients only, within their
//! registered scope, no refresh token.

use wxauth::domain::client::ClientKind;
use wxauth_tests::TestEnv;

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
    let wrong = env.client_credentials(&id, "wrong-secret").await;
    assert_eq!((wrong.status, wrong.error()), (401, "invalid_client"));
    let public = env.web_client(&["client_credentials"], "openid profile").await;
    let refused = env.token(&[("grant_type", "client_credentials"), ("client_id", &public)]).await;
    assert_eq!((refused.status, refused.error()), (400, "unauthorized_client"));
}

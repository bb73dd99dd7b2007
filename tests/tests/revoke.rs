//! The revocation endpoint (RFC 7009): a client revokes its own refresh token (and with it the
//! family) or access token; another client's, or an unknown one, changes nothing.

use wxauth_tests::TestEnv;

#[tokio::test]
async fn revocation_ends_refresh_families_and_access_tokens_of_the_client_only() {
    let env = TestEnv::new().await;
    let mp = env.miniprogram().await;
    let login = env.login(&mp, "ok-rev").await;
    let other = env.miniprogram().await;
    let foreign = env.revoke(&other.client_id, login.str("refresh_token")).await;
    assert_eq!((foreign.status, foreign.error()), (400, "unauthorized_client"));
    assert_eq!(env.revoke(&mp.client_id, "never-issued").await.status, 200, "unknown tokens answer 200");

    assert_eq!(env.revoke(&mp.client_id, login.str("access_token")).await.status, 200);
    assert_eq!(env.protected("GET", "/userinfo", login.str("access_token"), None).await.status, 401);
    assert_eq!(env.revoke(&mp.client_id, login.str("refresh_token")).await.status, 200);
    let refresh = env.refresh(&mp.client_id, login.str("refresh_token")).await;
    assert_eq!((refresh.status, refresh.error()), (400, "invalid_grant"));
}

//! The introspection endpoint (RFC 7662): confidential clients learn about the tokens meant for
//! them (their audience) or issued to them, and nothing else.

use wxauth::domain::client::ClientKind;
use wxauth_tests::{TestEnv, form_request};

#[tokio::test]
async fn introspection_answers_confidential_clients_about_their_business_only() {
    let env = TestEnv::new().await;
    const REPORTS: &str = "https://reports.api.example";
    // A resource server for the audience REPORTS, and a client whose tokens are meant for it.
    let (rs, rs_secret) = env.client(ClientKind::Confidential, &[], &[], "", Some(REPORTS)).await;
    let rs_secret = rs_secret.expect("secret");
    let (caller, caller_secret) =
        env.client(ClientKind::Confidential, &["client_credentials"], &[], "reports:read", Some(REPORTS)).await;
    let caller_secret = caller_secret.expect("secret");
    let meant_for_reports = env.client_credentials(&caller, &caller_secret).await;
    let (stranger, stranger_secret) =
        env.client(ClientKind::Confidential, &[], &[], "", Some("https://other.api")).await;
    let mp = env.miniprogram().await;
    let login = env.login(&mp, "ok-intro").await;
    let introspect = |id: String, secret: String, token: String| {
        let env = &env;
        async move { env.post_basic("/oauth/introspect", &id, &secret, &[("token", &token)]).await }
    };
    let active = introspect(rs.clone(), rs_secret.clone(), meant_for_reports.str("access_token").to_string()).await;
    assert_eq!(active.status, 200);
    assert_eq!(active.json["active"], true, "{}", active.json);
    assert_eq!(active.json["client_id"], caller.as_str());
    assert_eq!(active.json["aud"], REPORTS);
    for field in ["scope", "sub", "token_type", "exp", "iat", "iss", "aud", "jti"] {
        assert!(active.json.get(field).is_some(), "{field}");
    }
    let not_its_business =
        introspect(stranger.clone(), stranger_secret.expect("secret"), login.str("access_token").to_string()).await;
    assert_eq!(not_its_business.json, serde_json::json!({"active": false}));
    let not_meant_for_it = introspect(rs.clone(), rs_secret.clone(), login.str("access_token").to_string()).await;
    assert_eq!(
        not_meant_for_it.json,
        serde_json::json!({"active": false}),
        "a mini program's token is not for REPORTS"
    );

    // A client registered (around the admin's check) with the deployment's default audience is
    // no resource server of every token: it sees only its own.
    for shared in [wxauth_tests::ISSUER, env.app.config.audience.as_str()] {
        let (greedy, greedy_secret) = env.client(ClientKind::Confidential, &[], &[], "", Some(shared)).await;
        let seen = introspect(greedy, greedy_secret.expect("secret"), login.str("access_token").to_string()).await;
        assert_eq!(seen.json, serde_json::json!({"active": false}), "every user's token, seen by {shared}?");
    }
    let malformed = introspect(rs.clone(), rs_secret.clone(), "garbage".into()).await;
    assert_eq!(malformed.json, serde_json::json!({"active": false}));

    let public = env
        .call(form_request("/oauth/introspect", &[("client_id", &mp.client_id), ("token", login.str("access_token"))]))
        .await;
    assert_eq!((public.status, public.error()), (401, "invalid_client"));

    let token = meant_for_reports.str("access_token");
    assert_eq!(env.post_basic("/oauth/revoke", &caller, &caller_secret, &[("token", token)]).await.status, 200);
    let revoked = introspect(rs, rs_secret, token.to_string()).await;
    assert_eq!(revoked.json, serde_json::json!({"active": false}), "revoked");
}

//! Client registration: what a client may be registered with, whatever registers it (the admin
//! tool's command line, which goes through the same rules, is tested in admin_cli.rs).

use wxauth::domain::client::ClientKind;
use wxauth_tests::TestEnv;

#[tokio::test]
async fn redirect_uris_must_be_https_or_loopback_and_fragment_free() {
    let env = TestEnv::new().await;
    let data_key = wxauth::keys::data_key::DataKey::new(env.kms.clone(), env.app.config.kms_data_key_id.clone());
    for bad in ["http://app.example/cb", "https://app.example/cb#x", "javascript:alert(1)"] {
        let new = wxauth_provision::NewClient {
            id: "bad-redirect".into(),
            name: String::new(),
            kind: ClientKind::Public,
            grant_types: vec![],
            redirect_uris: vec![bad.into()],
            post_logout_redirect_uris: vec![],
            backchannel_logout: None,
            scope: wxauth::scope::Scope::default(),
            audience: None,
            wechat: None,
        };
        assert!(wxauth_provision::create_client(&env.app.store, &data_key, new, 0).await.is_err(), "{bad}");
    }
}

//! JWKS and metadata, and signing-key rotation as the JWKS shows it.

use wxauth::keys::algorithm::Algorithm;
use wxauth_tests::{ISSUER, TestEnv};

async fn the_only_published_key(env: &TestEnv) -> serde_json::Value {
    let jwks = env.get("/.well-known/jwks.json").await;
    assert_eq!(jwks.status, 200);
    let keys = jwks.json["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 1);
    let key = keys[0].clone();
    let jwk: wxauth::keys::jwks::Jwk = serde_json::from_value(key.clone()).expect("jwk");
    assert_eq!(jwk.kid, jwk.thumbprint());
    for private in ["d", "p", "q", "dp", "dq", "qi"] {
        assert!(key.get(private).is_none(), "never a private part ({private})");
    }
    key
}

#[tokio::test]
async fn the_jwks_publishes_an_rsa_signing_key_with_its_thumbprint_as_kid() {
    let env = TestEnv::new().await;
    let key = the_only_published_key(&env).await;
    assert_eq!(
        (key["kty"].as_str(), key["alg"].as_str(), key["use"].as_str(), key["e"].as_str()),
        (Some("RSA"), Some("RS256"), Some("sig"), Some("AQAB"))
    );
    // RSA_2048: a 256-byte modulus, base64url without padding.
    assert_eq!(key["n"].as_str().expect("n").len(), 342);
}

#[tokio::test]
async fn the_jwks_publishes_an_ec_signing_key_with_its_thumbprint_as_kid() {
    let env = TestEnv::with_signing(Algorithm::ES256, |_| {}).await;
    let key = the_only_published_key(&env).await;
    assert_eq!(
        (key["kty"].as_str(), key["crv"].as_str(), key["alg"].as_str(), key["use"].as_str()),
        (Some("EC"), Some("P-256"), Some("ES256"), Some("sig"))
    );
}

#[tokio::test]
async fn openid_configuration_is_the_same_document_as_the_oauth_metadata() {
    let env = TestEnv::new().await;
    let oidc = env.get("/.well-known/openid-configuration").await;
    let oauth = env.get("/.well-known/oauth-authorization-server").await;
    assert_eq!((oidc.status, oauth.status), (200, 200));
    assert_eq!(oidc.json, oauth.json);
    assert_eq!(oidc.header("cache-control"), Some("public, max-age=3600"));
    assert_eq!(oidc.json["issuer"], ISSUER, "the issuer is every token's iss, byte for byte");
    assert_eq!(oidc.json["userinfo_endpoint"], format!("{ISSUER}/userinfo"));
    let algs = oidc.json["id_token_signing_alg_values_supported"].as_array().expect("algs");
    assert!(algs.contains(&"RS256".into()), "OpenID Connect Discovery §3: RS256 MUST be included");
}

#[tokio::test]
async fn the_metadata_names_the_endpoints_and_grants() {
    let env = TestEnv::new().await;
    let m = env.get("/.well-known/oauth-authorization-server").await;
    assert_eq!(m.status, 200);
    assert_eq!(m.json["issuer"], ISSUER);
    assert_eq!(m.json["token_endpoint"], format!("{ISSUER}/oauth/token"));
    assert_eq!(m.json["jwks_uri"], format!("{ISSUER}/.well-known/jwks.json"));
    let grants: Vec<&str> =
        m.json["grant_types_supported"].as_array().expect("grants").iter().filter_map(|g| g.as_str()).collect();
    assert!(grants.contains(&"urn:wxauth:grant-type:wechat-code") && grants.contains(&"refresh_token"));
    // RFC 8628 §4: the device authorization endpoint, and its grant.
    assert_eq!(m.json["device_authorization_endpoint"], format!("{ISSUER}/oauth/device_authorization"));
    assert!(grants.contains(&"urn:ietf:params:oauth:grant-type:device_code"), "{grants:?}");
}

#[tokio::test]
async fn a_rotated_key_is_published_before_it_signs_and_the_old_one_stays_published() {
    let env = TestEnv::with_config(|c| c.key_cache_ttl = std::time::Duration::ZERO).await;
    let mp = env.miniprogram().await;
    let old_kid = jsonwebtoken::decode_header(env.login(&mp, "ok-una").await.str("access_token"))
        .expect("header")
        .kid
        .expect("kid");

    let now = wxauth::clock::unix_now();
    let upcoming = wxauth_provision::rotate_signing_key(
        &env.kms,
        &env.app.store,
        &env.app.config.kms_data_key_id,
        wxauth_provision::Rotation::default(),
        now,
        3600,
        900,
    )
    .await
    .expect("rotate");
    let old = env
        .app
        .store
        .signing_keys(now)
        .await
        .expect("keys")
        .into_iter()
        .find(|k| k.kid == old_kid)
        .expect("old key still published");
    assert_eq!(old.expires_at, Some(now + 3600 + 900 + 60), "retired once its last token has expired");
    let kids = |r: &wxauth_tests::Reply| {
        r.json["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .map(|k| k["kid"].as_str().expect("kid").to_string())
            .collect::<Vec<_>>()
    };

    let published = kids(&env.get("/.well-known/jwks.json").await);
    assert!(published.contains(&upcoming.kid) && published.contains(&old_kid), "both published: {published:?}");
    let still_old = env.login(&mp, "ok-una~2").await;
    assert_eq!(
        jsonwebtoken::decode_header(still_old.str("access_token")).expect("header").kid.as_deref(),
        Some(old_kid.as_str()),
        "not signing yet"
    );

    // An hour passes: the new key's time comes (and the old key is an hour older).
    let set_active_from = |kid: String, at: i64| {
        let env = &env;
        async move {
            env.app
                .store
                .dynamodb()
                .update_item()
                .table_name(env.app.store.table())
                .set_key(Some(wxauth::store::signing_keys::key(&kid).attributes()))
                .update_expression("SET active_from = :at")
                .expression_attribute_values(":at", aws_sdk_dynamodb::types::AttributeValue::N(at.to_string()))
                .send()
                .await
                .expect("update active_from");
        }
    };
    set_active_from(old_kid.clone(), now - 3600).await;
    set_active_from(upcoming.kid.clone(), now).await;
    let new_token = env.login(&mp, "ok-una~3").await;
    let (header, _) = env.verify_with_jwks(new_token.str("access_token")).await;
    assert_eq!(header.kid.as_deref(), Some(upcoming.kid.as_str()));
    env.verify_with_jwks(still_old.str("access_token")).await;
}

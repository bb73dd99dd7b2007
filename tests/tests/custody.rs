//! Key custody and envelope encryption against moto: envelope and KMS-held signing keys, rotation
//! between them, data keys within their bounds, secrets sealed before envelope encryption, and
//! the client cache. (Faults at cold start: tests/tests/faults.rs; the shipped binary that cannot
//! unwrap its key: tests/tests/lambda_runtime.rs.)

use std::time::Duration;

use serde_json::json;
use wxauth::config::DataKeyBounds;
use wxauth::domain::client::ClientKind;
use wxauth::domain::session_keys::NewSessionKey;
use wxauth::domain::signing_key::Custody;
use wxauth::domain::user::Openid;
use wxauth::keys::algorithm::Algorithm;
use wxauth::keys::data_key::DataKey;
use wxauth::wechat::secrets::{app_secret_context, session_key_context};
use wxauth_provision::{self as provision, KeyCustody, Rotation};
use wxauth_tests::faults::FaultProxy;
use wxauth_tests::{TestEnv, encrypted_profile, mock_session_key};

const SIGN: &str = "TrentService.Sign";
const DECRYPT: &str = "TrentService.Decrypt";
const GENERATE_DATA_KEY: &str = "TrentService.GenerateDataKey";

/// Logs a user in and checks both tokens against the JWKS; returns the access token's `kid`.
async fn login_and_verify(env: &TestEnv, code: &str) -> String {
    let mp = env.miniprogram().await;
    let login = env.login(&mp, code).await;
    assert_eq!(login.status, 200, "{}", login.json);
    let (header, claims) = env.verify_with_jwks(login.str("access_token")).await;
    assert_eq!(claims["client_id"], mp.client_id.as_str());
    env.verify_id_token(login.str("id_token"), &mp.client_id).await;
    header.kid.expect("kid")
}

#[tokio::test]
async fn tokens_of_either_custody_and_either_algorithm_verify_against_the_jwks() {
    for alg in Algorithm::ALL {
        for custody in [KeyCustody::Envelope, KeyCustody::Kms] {
            let env = TestEnv::with_key(alg, custody, |_| {}).await;
            let key = env.app.keys.active(wxauth::clock::unix_now()).await.expect("a key");
            assert_eq!((key.jwk.alg, KeyCustody::of(&key.custody)), (alg, custody));
            let proxy = FaultProxy::start().await;
            let app = proxy.app(&env).await;
            let (service, secret) = env.client(ClientKind::Confidential, &[], &[], "reports:read", None).await;
            let secret = secret.expect("a secret");
            for _ in 0..3 {
                let reply = wxauth_tests::reply(
                    token::handle(&app, basic(&service, &secret, &[("grant_type", "client_credentials")])).await,
                )
                .json;
                let (header, _) = env.verify_with_jwks(reply["access_token"].as_str().expect("a token")).await;
                assert_eq!(header.kid.as_deref(), Some(key.kid.as_str()));
            }
            match custody {
                // Unwrapped once for the container, then signed in process.
                KeyCustody::Envelope => assert_eq!((proxy.calls(SIGN), proxy.calls(DECRYPT)), (0, 1), "{alg}"),
                KeyCustody::Kms => assert_eq!((proxy.calls(SIGN), proxy.calls(DECRYPT)), (3, 0), "{alg}"),
            }
            assert_eq!(login_and_verify(&env, &format!("ok-{alg}-{custody:?}")).await, key.kid);
        }
    }
}

fn basic(id: &str, secret: &str, params: &[(&str, &str)]) -> lambda_http::Request {
    wxauth_tests::with_basic(wxauth_tests::form_request("/oauth/token", params), id, secret)
}

#[tokio::test]
async fn a_rotation_moves_between_custodies_and_old_tokens_keep_verifying() {
    // The registry read afresh by this deployment's JWKS, so that it shows each new key at once.
    let env = TestEnv::with_key(Algorithm::RS256, KeyCustody::Kms, |c| c.key_cache_ttl = Duration::ZERO).await;
    let first_kid = login_and_verify(&env, "ok-rota").await;
    let mut kids = vec![first_kid];
    let mut old_tokens = Vec::new();
    for (custody, alg) in [(KeyCustody::Envelope, Algorithm::ES256), (KeyCustody::Kms, Algorithm::ES256)] {
        let mp = env.miniprogram().await;
        old_tokens.push(env.login(&mp, &format!("ok-before-{custody:?}")).await.str("access_token").to_string());
        // Active at once (published two seconds ago), so a fresh container signs with it.
        let now = wxauth::clock::unix_now();
        let rotation = Rotation { custody: Some(custody), alg: Some(alg), ..Rotation::default() };
        let new = provision::rotate_signing_key(
            &env.kms,
            &env.app.store,
            &env.app.config.kms_data_key_id,
            rotation,
            now - 2,
            1,
            900,
        )
        .await
        .expect("rotated");
        assert_eq!((KeyCustody::of(&new.custody), new.jwk.alg), (custody, alg));
        // Strictly after the previous key's `active_from`: within a second or two.
        while wxauth::clock::unix_now() < new.active_from {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let proxy = FaultProxy::start().await;
        let app = proxy.app(&env).await;
        let login = wxauth_tests::reply(
            token::handle(
                &app,
                wxauth_tests::form_request(
                    "/oauth/token",
                    &[
                        ("grant_type", wxauth_tests::WECHAT_GRANT),
                        ("client_id", mp.client_id.as_str()),
                        ("code", &format!("ok-after-{custody:?}")),
                    ],
                ),
            )
            .await,
        );
        assert_eq!(login.status, 200, "{}", login.json);
        let (header, _) = env.verify_with_jwks(login.str("access_token")).await;
        assert_eq!(header.kid.as_deref(), Some(new.kid.as_str()), "the new key signs");
        let signs = if custody == KeyCustody::Kms { 2 } else { 0 };
        assert_eq!(proxy.calls(SIGN), signs, "{custody:?}: access and ID token");
        kids.push(new.kid);
        for old in &old_tokens {
            env.verify_with_jwks(old).await; // still published, still verifying
        }
    }
    let listed: Vec<_> = env.app.store.signing_keys(wxauth::clock::unix_now()).await.expect("keys");
    assert_eq!(listed.iter().map(|k| k.kid.clone()).collect::<Vec<_>>(), kids);
    assert!(matches!(listed[1].custody, Custody::Envelope { .. }));
}

#[tokio::test]
async fn a_wrapped_key_opens_only_for_its_own_table_and_kid() {
    let env = TestEnv::new().await;
    let key = env.app.keys.active(wxauth::clock::unix_now()).await.expect("a key");
    let Custody::Envelope { wrapped } = &key.custody else { panic!("envelope by default") };
    // The registry item moved to another table, or under another kid, does not unwrap: KMS
    // refuses the encryption context.
    let unwrap = |table: String, kid: String| {
        let (kms, wrapped) = (env.kms.clone(), wrapped.clone());
        async move {
            let context = wxauth::keys::local_key::wrapping_context(&table, &kid);
            kms.decrypt()
                .ciphertext_blob(aws_sdk_kms::primitives::Blob::new(wrapped))
                .set_encryption_context(Some(wxauth::keys::data_key::kms_context(&context)))
                .send()
                .await
        }
    };
    let table = env.app.store.table().to_string();
    for (table, kid) in [("another-table".to_string(), key.kid.clone()), (table.clone(), "another-kid".to_string())] {
        assert!(unwrap(table.clone(), kid.clone()).await.is_err(), "{table} / {kid}");
    }
    // Its own context opens it, to the private half of the registered key.
    let opened = unwrap(table, key.kid.clone()).await.expect("its own context opens it");
    let pkcs8 = zeroize::Zeroizing::new(opened.plaintext.expect("plaintext").into_inner());
    wxauth::keys::local_key::LocalKey::for_jwk(&key.jwk, pkcs8).expect("the registered key's private half");
    // What the registry stores is no key at all without KMS.
    let stored = zeroize::Zeroizing::new(wrapped.clone());
    assert!(wxauth::keys::local_key::LocalKey::from_pkcs8(key.jwk.alg, stored).is_err(), "not a plaintext key");
}

/// The data key's KMS ciphertext inside a `WXE1` envelope.
fn data_key_of(sealed: &[u8]) -> Vec<u8> {
    assert_eq!(&sealed[..4], b"WXE1", "envelope encrypted");
    let length = u16::from_be_bytes([sealed[4], sealed[5]]) as usize;
    sealed[6..6 + length].to_vec()
}

#[tokio::test]
async fn a_data_key_is_replaced_once_past_its_message_or_age_bound() {
    let env = TestEnv::new().await;
    let proxy = FaultProxy::start().await;
    let bounds = DataKeyBounds { max_age: Duration::from_secs(2), max_messages: 2 };
    let data_key = proxy.app_with_config(&env, |c| c.data_key_bounds = bounds).await.data_key;
    let context = session_key_context(Openid { appid: "wxbounds", openid: "openid-bounds" });
    let mut sealed = Vec::new();
    for i in 0..3 {
        sealed.push(data_key.encrypt(format!("secret {i}").as_bytes(), &context).await.expect("sealed"));
    }
    assert_eq!(proxy.calls(GENERATE_DATA_KEY), 2, "two messages per data key");
    assert_eq!(data_key_of(&sealed[0]), data_key_of(&sealed[1]));
    assert_ne!(data_key_of(&sealed[1]), data_key_of(&sealed[2]), "the third sealed under a new data key");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    sealed.push(data_key.encrypt(b"secret 3", &context).await.expect("sealed"));
    assert_eq!(proxy.calls(GENERATE_DATA_KEY), 3, "a data key older than max_age is not used again");
    assert_ne!(data_key_of(&sealed[2]), data_key_of(&sealed[3]));

    // Every one opens, in a container that never saw the data keys (one Decrypt per data key,
    // then cached), and only under its own context.
    let reader = DataKey::new(env.kms.clone(), env.app.config.kms_data_key_id.clone());
    for (i, ciphertext) in sealed.iter().enumerate() {
        let plain = reader.decrypt(ciphertext, &context).await.expect("opens");
        assert_eq!(plain, format!("secret {i}").as_bytes());
        let other = session_key_context(Openid { appid: "wxbounds", openid: "another-openid" });
        assert!(reader.decrypt(ciphertext, &other).await.is_err(), "another user's context");
    }
    let mut tampered = sealed[0].clone();
    *tampered.last_mut().expect("a byte") ^= 1;
    assert!(reader.decrypt(&tampered, &context).await.is_err(), "the tag catches a changed byte");
}

#[tokio::test]
async fn secrets_sealed_by_kms_before_envelope_encryption_still_open() {
    let env = TestEnv::new().await;
    let appid = format!("wx{}", wxauth::secret::random_id());
    let secret = format!("secret-{appid}");
    env.mock_post("/mock/apps", json!({"appid": appid, "secret": secret})).await;
    // A client registered before: its app secret a plain KMS ciphertext under the whole context.
    let legacy = |plain: String, context: Vec<(&'static str, String)>| {
        let kms = env.kms.clone();
        let key_id = env.app.config.kms_data_key_id.clone();
        async move {
            let out = kms
                .encrypt()
                .key_id(key_id)
                .plaintext(aws_sdk_kms::primitives::Blob::new(plain.into_bytes()))
                .set_encryption_context(Some(context.into_iter().map(|(k, v)| (k.to_string(), v)).collect()))
                .send()
                .await
                .expect("KMS Encrypt");
            out.ciphertext_blob.expect("ciphertext").into_inner()
        }
    };
    let secret_context = app_secret_context(&appid).map(|(k, v)| (k, v.to_string())).to_vec();
    let client = wxauth::domain::client::Client {
        id: format!("mp-{appid}"),
        name: "registered before envelope encryption".into(),
        kind: ClientKind::MiniProgram,
        secret_hash: None,
        grant_types: provision::default_grants(ClientKind::MiniProgram),
        redirect_uris: vec![],
        post_logout_redirect_uris: vec![],
        backchannel_logout: None,
        scope: wxauth::scope::Scope::parse("openid profile").expect("scope"),
        audience: None,
        wechat: Some(wxauth::domain::client::WechatApp {
            appid: appid.clone(),
            encrypted_secret: legacy(secret.clone(), secret_context).await,
        }),
        created_at: wxauth::clock::unix_now(),
    };
    env.app.store.create_client(&client).await.expect("stored");
    let mp = wxauth_tests::MiniProgram { client_id: client.id.clone(), appid: appid.clone() };
    let login = env.login(&mp, "ok-olga").await;
    assert_eq!(login.status, 200, "the old app secret opens: {}", login.json);

    // A session key stored before: replaced by a plain KMS ciphertext, then used.
    let openid = login.str("openid").to_string();
    let session_key = mock_session_key("olga");
    let context =
        session_key_context(Openid { appid: &appid, openid: &openid }).map(|(k, v)| (k, v.to_string())).to_vec();
    let ciphertext = legacy(session_key.clone(), context).await;
    let now = wxauth::clock::unix_now();
    env.app
        .store
        .put_session_key(
            Openid { appid: &appid, openid: &openid },
            &NewSessionKey { ciphertext, previous_until: now + 300, expires_at: now + 3600 },
            now,
        )
        .await
        .expect("stored");
    let body = encrypted_profile(&session_key, &appid, "Olga");
    let decrypted = env.protected("POST", "/wechat/decrypt", login.str("access_token"), Some(body)).await;
    assert_eq!(decrypted.status, 200, "the old session key opens: {}", decrypted.json);
    assert_eq!(decrypted.json["data"]["nickName"], "Olga");
}

#[tokio::test]
async fn a_cached_client_is_honoured_until_its_time_is_up_and_not_after() {
    let env = TestEnv::with_config(|c| c.client_cache_ttl = Duration::from_secs(2)).await;
    let (service, secret) = env.client(ClientKind::Confidential, &[], &[], "reports:read", None).await;
    let secret = secret.expect("a secret");
    let grant = [("grant_type", "client_credentials")];
    let issue = || env.token_request(basic(&service, &secret, &grant));
    assert_eq!(issue().await.status, 200);
    assert!(env.app.store.delete_client(&service).await.expect("deleted"));
    assert_eq!(issue().await.status, 200, "this container read it a moment ago");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let gone = issue().await;
    assert_eq!((gone.status, gone.error()), (401, "invalid_client"), "past CLIENT_CACHE_TTL the deletion holds");

    // Unknown ids are not cached: a client created after a miss works at once.
    let env = TestEnv::new().await;
    let miss = env.token_request(basic("created-later", "x", &grant)).await;
    assert_eq!(miss.status, 401);
    let created = env
        .create_client(provision::NewClient {
            id: "created-later".into(),
            name: String::new(),
            kind: ClientKind::Confidential,
            grant_types: vec![],
            redirect_uris: vec![],
            post_logout_redirect_uris: vec![],
            backchannel_logout: None,
            scope: wxauth::scope::Scope::parse("reports:read").expect("scope"),
            audience: None,
            wechat: None,
        })
        .await
        .expect("a secret");
    assert_eq!(env.token_request(basic("created-later", &created, &grant)).await.status, 200);
}

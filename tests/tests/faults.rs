//! Backend faults that moto cannot produce, injected by a proxy in front of it
//! ([`wxauth_tests::faults`]): DynamoDB transaction conflicts and throttling, KMS keys disabled
//! or pending deletion, garbled and HTML answers, a stalled service, a lost answer. Each test
//! checks what the client is told (status, RFC 6749 body, `Retry-After`, no detail of the
//! infrastructure) and, above all, that nothing was lost or half-written: a refresh token that
//! met a fault still works afterwards, and was not taken for reuse.

use std::time::Duration;

use serde_json::Value;
use wxauth_tests::faults::{Fault, FaultProxy, target};
use wxauth_tests::{
    PATIENCE, PKCE_CHALLENGE, PKCE_VERIFIER, REDIRECT_URI, Reply, Server, TestEnv, approve, encrypted_profile,
    exchange, location_params, mock_session_key, open_sign_in,
};

/// A deployment whose signing key KMS holds (custody kms): every signature a KMS `Sign` call.
async fn kms_held() -> TestEnv {
    TestEnv::with_custody(wxauth_provision::KeyCustody::Kms).await
}

/// An RFC 6749 error body that names no part of the infrastructure and none of `secrets`.
fn assert_opaque(reply: &Reply, secrets: &[&str]) {
    let body = reply.json.to_string();
    assert!(reply.json["error_description"].as_str().is_some_and(|d| !d.is_empty()), "an error_description: {body}");
    let lower = body.to_lowercase();
    for detail in ["127.0.0.1", "arn:aws", "exception", "dynamodb", "kms", "throttl", "transaction", "<html", "moto"] {
        assert!(!lower.contains(detail), "`{detail}` in the body: {body}");
    }
    for secret in secrets {
        assert!(!body.contains(secret), "a secret or an identifier in the body: {body}");
    }
}

/// 503 `temporarily_unavailable` with `Retry-After`, and nothing more.
fn assert_unavailable(reply: &Reply, secrets: &[&str]) {
    assert_eq!((reply.status, reply.error()), (503, "temporarily_unavailable"), "{}", reply.json);
    let retry_after = reply.header("retry-after").expect("Retry-After");
    assert!(retry_after.parse::<u64>().is_ok(), "Retry-After in seconds: {retry_after}");
    assert_opaque(reply, secrets);
}

/// A refresh that failed on a fault left the token as it was: it still rotates (so it was
/// neither spent nor taken for reuse, which would have revoked its family), once.
async fn assert_still_refreshes(env: &TestEnv, client_id: &str, token: &str) {
    let item =
        env.raw_item(&wxauth::store::refresh_tokens::token_key(&wxauth::secret::hash(token))).await.expect("stored");
    assert!(!item.contains_key("used_at"), "the token was not marked used");
    let again = env.refresh(client_id, token).await;
    assert_eq!(again.status, 200, "the same refresh token works afterwards: {}", again.json);
    let next = env.refresh(client_id, again.str("refresh_token")).await;
    assert_eq!(next.status, 200, "its family lives on: {}", next.json);
}

/// The `ClientRequestToken`s of the `TransactWriteItems` requests the proxy saw.
fn client_request_tokens(proxy: &FaultProxy) -> Vec<String> {
    proxy
        .requests(target::TRANSACT_WRITE_ITEMS)
        .iter()
        .map(|r| r["ClientRequestToken"].as_str().expect("a ClientRequestToken").to_string())
        .collect()
}

#[tokio::test]
async fn a_rotation_cancelled_for_a_conflict_or_throttling_is_503_and_the_token_still_works() {
    let env = TestEnv::new().await;
    let (mp, login) = env.logged_in("ok-rosa").await;
    let token = login.str("refresh_token");
    // The rotation's items: mark the old token used, extend the family, put the new token.
    for reasons in [["TransactionConflict", "None", "None"], ["None", "ThrottlingError", "None"]] {
        let proxy = FaultProxy::start().await;
        proxy.always(target::TRANSACT_WRITE_ITEMS, Fault::transaction_cancelled(&reasons));
        let app = proxy.server(&env).await;
        let reply = app.refresh(&mp.client_id, token).await;
        assert_unavailable(&reply, &[token, env.app.store.table()]);
        assert_eq!(proxy.calls(target::TRANSACT_WRITE_ITEMS), 1, "{reasons:?}: one write, no second one");
        assert_eq!(proxy.calls(target::UPDATE_ITEM), 0, "{reasons:?}: not taken for reuse (no family revoked)");
    }
    assert_still_refreshes(&env, &mp.client_id, token).await;
}

#[tokio::test]
async fn a_rotation_throttled_every_time_is_retried_by_the_sdk_then_503_and_the_token_still_works() {
    let env = TestEnv::new().await;
    let (mp, login) = env.logged_in("ok-tess").await;
    let token = login.str("refresh_token");
    let proxy = FaultProxy::start().await;
    proxy.always(target::TRANSACT_WRITE_ITEMS, Fault::provisioned_throughput_exceeded());
    let reply = proxy.server(&env).await.refresh(&mp.client_id, token).await;
    assert_unavailable(&reply, &[token]);
    let attempts = client_request_tokens(&proxy);
    assert_eq!(attempts.len(), 3, "the SDK's standard retry: three attempts");
    assert!(attempts.iter().all(|t| *t == attempts[0]), "one ClientRequestToken for all attempts: {attempts:?}");
    assert_eq!(proxy.calls(target::UPDATE_ITEM), 0, "no family revoked");
    assert_still_refreshes(&env, &mp.client_id, token).await;
}

#[tokio::test]
async fn a_rotation_throttled_once_succeeds_on_the_sdk_retry_and_writes_once() {
    let env = kms_held().await;
    let (mp, login) = env.logged_in("ok-uma").await;
    let token = login.str("refresh_token");
    let proxy = FaultProxy::start().await;
    proxy.first(1, target::TRANSACT_WRITE_ITEMS, Fault::dynamodb_throttling());
    let reply = proxy.server(&env).await.refresh(&mp.client_id, token).await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    assert_eq!(proxy.calls(target::TRANSACT_WRITE_ITEMS), 2, "throttled once, retried once");
    assert_eq!(proxy.calls(target::SIGN), 2, "one access token and its ID token signed, once each");
    let next = env.refresh(&mp.client_id, reply.str("refresh_token")).await;
    assert_eq!(next.status, 200, "the rotated token works: {}", next.json);
}

#[tokio::test]
async fn a_rotation_whose_answer_was_lost_is_retried_idempotently_and_the_client_gets_its_token() {
    let env = TestEnv::new().await;
    let (mp, login) = env.logged_in("ok-vera").await;
    let token = login.str("refresh_token");
    let proxy = FaultProxy::start().await;
    // DynamoDB applied the rotation, but its answer became a 500 on the way back.
    proxy.first(1, target::TRANSACT_WRITE_ITEMS, Fault::dynamodb_internal_error().after_forwarding());
    let reply = proxy.server(&env).await.refresh(&mp.client_id, token).await;
    assert_eq!(reply.status, 200, "the retry is the same transaction, not a lost race: {}", reply.json);
    let attempts = client_request_tokens(&proxy);
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0], attempts[1], "the retry carries the first attempt's ClientRequestToken");
    assert_eq!(proxy.calls(target::UPDATE_ITEM), 0, "no family revoked");
    let next = env.refresh(&mp.client_id, reply.str("refresh_token")).await;
    assert_eq!(next.status, 200, "the token the client got is the live one: {}", next.json);
}

#[tokio::test]
async fn a_rotation_whose_answer_was_lost_is_recognised_as_ours_even_when_its_retry_is_checked_afresh() {
    let env = TestEnv::new().await;
    let (mp, login) = env.logged_in("ok-vita").await;
    let token = login.str("refresh_token");
    let proxy = FaultProxy::start().await;
    proxy.without_transaction_idempotency();
    // DynamoDB applied the rotation, its answer was lost, and the retry meets the token used.
    proxy.first(1, target::TRANSACT_WRITE_ITEMS, Fault::dynamodb_internal_error().after_forwarding());
    let reply = proxy.server(&env).await.refresh(&mp.client_id, token).await;
    assert_eq!(reply.status, 200, "our own write, not a concurrent one: {}", reply.json);
    assert_eq!(client_request_tokens(&proxy).len(), 2, "the SDK retried");
    assert_eq!(proxy.calls(target::UPDATE_ITEM), 0, "no family revoked");
    let next = env.refresh(&mp.client_id, reply.str("refresh_token")).await;
    assert_eq!(next.status, 200, "the token the client got is the live one: {}", next.json);
}

#[tokio::test]
async fn dynamodb_throttling_and_internal_errors_are_503_after_the_sdk_retries() {
    let env = TestEnv::new().await;
    let (mp, login) = env.logged_in("ok-wanda").await;
    let token = login.str("refresh_token");
    let faults = [
        ("ProvisionedThroughputExceededException", Fault::provisioned_throughput_exceeded()),
        ("ThrottlingException", Fault::dynamodb_throttling()),
        ("InternalServerError", Fault::dynamodb_internal_error()),
        ("an HTML 500", Fault::html(500)),
        ("an HTML 503", Fault::html(503)),
    ];
    let cases = faults.into_iter().map(|(name, fault)| {
        let (env, mp) = (&env, &mp);
        async move {
            let proxy = FaultProxy::start().await;
            proxy.always(target::GET_ITEM, fault);
            let reply = proxy.server(env).await.refresh(&mp.client_id, token).await;
            (name, reply, proxy.calls(target::GET_ITEM), proxy.calls(target::TRANSACT_WRITE_ITEMS))
        }
    });
    for (name, reply, reads, writes) in futures::future::join_all(cases).await {
        assert_unavailable(&reply, &[token]);
        assert_eq!(reads, 3, "{name}: retried by the SDK, three attempts");
        assert_eq!(writes, 0, "{name}: nothing written");
    }
    assert_still_refreshes(&env, &mp.client_id, token).await;
}

#[tokio::test]
async fn a_garbled_answer_from_dynamodb_is_503_without_details() {
    let env = TestEnv::new().await;
    let (mp, login) = env.logged_in("ok-xena").await;
    let token = login.str("refresh_token");
    let faults = [
        ("truncated JSON", Fault::garbage(200, "application/x-amz-json-1.0", br#"{"Item": {"pk": {"S": "CLIE"#)),
        ("JSON of another shape", Fault::garbage(200, "application/x-amz-json-1.0", br#"{"Item": "nonsense"}"#)),
        ("an HTML page with 200", Fault::garbage(200, "text/html", b"<html><body>Welcome</body></html>")),
    ];
    for (name, fault) in faults {
        let proxy = FaultProxy::start().await;
        proxy.always(target::GET_ITEM, fault);
        let reply = proxy.server(&env).await.refresh(&mp.client_id, token).await;
        assert_unavailable(&reply, &[token]);
        assert_eq!(proxy.calls(target::TRANSACT_WRITE_ITEMS), 0, "{name}: nothing written");
    }
    assert_still_refreshes(&env, &mp.client_id, token).await;
}

#[tokio::test]
async fn a_stalled_dynamodb_is_503_once_the_sdk_gives_up_not_a_hang() {
    let env = TestEnv::new().await;
    let (mp, login) = env.logged_in("ok-yara").await;
    let token = login.str("refresh_token");
    let proxy = FaultProxy::start().await;
    proxy.always(target::GET_ITEM, Fault::Delay(Duration::from_secs(600)));
    // Production's timeouts: they are what cuts the stall off.
    let app = Server::new(proxy.app_with_timeouts(&env, wxauth::config::AwsTimeouts::default()).await);
    let reply = tokio::time::timeout(PATIENCE, app.refresh(&mp.client_id, token))
        .await
        .expect("the request ends although DynamoDB never answers (SDK timeouts)");
    assert_unavailable(&reply, &[token]);
    assert_eq!(proxy.calls(target::TRANSACT_WRITE_ITEMS), 0, "nothing written");
    assert_still_refreshes(&env, &mp.client_id, token).await;
}

#[tokio::test]
async fn a_throttled_kms_sign_during_a_refresh_is_503_and_the_token_still_works() {
    let env = kms_held().await;
    let (mp, login) = env.logged_in("ok-zoe").await;
    let token = login.str("refresh_token");
    let proxy = FaultProxy::start().await;
    proxy.always(target::SIGN, Fault::kms_throttling());
    let reply = proxy.server(&env).await.refresh(&mp.client_id, token).await;
    assert_unavailable(&reply, &[token]);
    assert_eq!(proxy.calls(target::SIGN), 3, "retried by the SDK, three attempts");
    assert_eq!(proxy.calls(target::TRANSACT_WRITE_ITEMS), 0, "the rotation is committed only after signing");
    assert_still_refreshes(&env, &mp.client_id, token).await;
}

#[tokio::test]
async fn a_disabled_or_deleted_signing_key_is_an_opaque_500_and_the_token_still_works() {
    let env = kms_held().await;
    let (mp, login) = env.logged_in("ok-abby").await;
    let token = login.str("refresh_token");
    let key_id = env.app.keys.active(wxauth::clock::unix_now()).await.expect("signing key").kms_key_id;
    let arn = format!("arn:aws:kms:us-east-1:123456789012:key/{key_id}");
    for fault in [Fault::kms_disabled(&arn), Fault::kms_invalid_state(&arn)] {
        let proxy = FaultProxy::start().await;
        proxy.always(target::SIGN, fault.clone());
        let reply = proxy.server(&env).await.refresh(&mp.client_id, token).await;
        // Not worth a retry: an operator must enable the key (or cancel its deletion).
        assert_eq!((reply.status, reply.error()), (500, "server_error"), "{fault:?}: {}", reply.json);
        assert_opaque(&reply, &[token, &key_id]);
        assert_eq!(proxy.calls(target::SIGN), 1, "{fault:?}: not retried");
        assert_eq!(proxy.calls(target::TRANSACT_WRITE_ITEMS), 0, "{fault:?}: the rotation was not committed");
    }
    assert_still_refreshes(&env, &mp.client_id, token).await;
}

#[tokio::test]
async fn a_kms_sign_failure_during_a_wechat_login_is_503_and_a_new_code_logs_the_user_in() {
    let env = kms_held().await;
    let mp = env.miniprogram().await;
    let proxy = FaultProxy::start().await;
    proxy.always(target::SIGN, Fault::kms_throttling());
    let reply = proxy.server(&env).await.wechat_login(&mp, "ok-bella").await;
    assert_unavailable(&reply, &["ok-bella"]);
    assert_eq!(proxy.calls(target::SIGN), 3, "retried by the SDK, three attempts");

    // WeChat's code is spent on WeChat's side: the mini program calls wx.login() again.
    let again = env.login(&mp, "ok-bella~2").await;
    assert_eq!(again.str("openid"), "openid-bella");
    assert_eq!(env.refresh(&mp.client_id, again.str("refresh_token")).await.status, 200);
}

/// The token families of the user a login's access token names (the `gsi1` index; immediate on moto).
async fn families_of(env: &TestEnv, login: &Reply) -> i32 {
    let user = wxauth::store::users::key(login.claims()["sub"].as_str().expect("sub")).pk;
    env.app
        .store
        .dynamodb()
        .query()
        .table_name(env.app.store.table())
        .index_name("gsi1")
        .key_condition_expression("gsi1pk = :user")
        .expression_attribute_values(":user", aws_sdk_dynamodb::types::AttributeValue::S(user))
        .send()
        .await
        .expect("Query")
        .count
}

#[tokio::test]
async fn a_wechat_login_that_fails_to_sign_leaves_no_token_family_behind() {
    let env = kms_held().await;
    let mp = env.miniprogram().await;
    let proxy = FaultProxy::start().await;
    proxy.always(target::SIGN, Fault::kms_throttling());
    assert_eq!(proxy.server(&env).await.wechat_login(&mp, "ok-cora").await.status, 503);
    let again = env.login(&mp, "ok-cora~2").await;
    assert_eq!(families_of(&env, &again).await, 1, "only the family the client received");
}

/// An envelope key's unwrapping (the one KMS call of a cold container that signs) throttled,
/// or refused: each request that needs it is 503 and writes nothing a retry would trip over;
/// once KMS answers, the same container signs.
#[tokio::test]
async fn an_envelope_key_that_cannot_be_unwrapped_at_cold_start_is_503_and_nothing_is_half_written() {
    let env = TestEnv::new().await;
    let refused = Fault::kms(400, "AccessDeniedException", "User is not authorized to perform: kms:Decrypt");
    for (fault, attempts) in [(Fault::kms_throttling(), 3), (refused, 1)] {
        let (mp, login_reply) = env.logged_in(&format!("ok-uli{attempts}")).await;
        let token = login_reply.str("refresh_token");
        let proxy = FaultProxy::start().await;
        proxy.first_containing(usize::MAX, target::DECRYPT, "wxauth-signing-key", fault.clone());
        let app = proxy.server(&env).await; // a cold container

        let reply = app.refresh(&mp.client_id, token).await;
        assert_unavailable(&reply, &[token]);
        assert_eq!(requests_naming(&proxy, target::DECRYPT, "wxauth-signing-key"), attempts, "{fault:?}");
        assert_eq!(proxy.calls(target::TRANSACT_WRITE_ITEMS), 0, "{fault:?}: the rotation was not committed");

        let fresh = app.wechat_login(&mp, &format!("ok-uli-{attempts}")).await;
        assert_unavailable(&fresh, &[]);
        let (service, secret) =
            env.client(wxauth::domain::client::ClientKind::Confidential, &[], &[], "reports:read", None).await;
        let issued = app.client_credentials(&service, &secret.expect("a secret")).await;
        assert_unavailable(&issued, &[]);
        let asked = requests_naming(&proxy, target::DECRYPT, "wxauth-signing-key");
        assert!(asked <= 2 * attempts, "{fault:?}: within a second of a failure KMS is not asked again ({asked})");

        // KMS answers again: once that second is over, the same container unwraps the key and signs.
        proxy.heal();
        tokio::time::sleep(wxauth::keys::signer::RETRY_UNWRAP_AFTER + Duration::from_millis(100)).await;
        let healed = app.refresh(&mp.client_id, token).await;
        assert_eq!(healed.status, 200, "{fault:?}: {}", healed.json);
        let again = env.login(&mp, &format!("ok-uli-{attempts}~2")).await;
        assert_eq!(families_of(&env, &again).await, 1, "the failed login left no family");
    }
}

/// `POST /wechat/decrypt` with `body`, through `server`.
async fn decrypt(server: &Server, access_token: &str, body: &Value) -> Reply {
    server.protected("POST", "/wechat/decrypt", access_token, Some(body.clone())).await
}

#[tokio::test]
async fn a_failing_kms_decrypt_of_the_session_key_is_503_for_wechat_decrypt() {
    let env = TestEnv::new().await;
    let (mp, login) = env.logged_in("ok-cleo").await;
    let body = encrypted_profile(&mock_session_key("cleo"), &mp.appid, "Cleo");
    let access_token = login.str("access_token");
    for fault in [Fault::kms_throttling(), Fault::kms(500, "KMSInternalException", "An internal error occurred.")] {
        let proxy = FaultProxy::start().await;
        proxy.always(target::DECRYPT, fault.clone());
        let reply = decrypt(&proxy.server(&env).await, access_token, &body).await;
        assert_unavailable(&reply, &[&mock_session_key("cleo"), access_token]);
        assert_eq!(proxy.calls(target::DECRYPT), 3, "{fault:?}: retried by the SDK");
    }
    let healthy = decrypt(&env, access_token, &body).await;
    assert_eq!(healthy.status, 200, "the stored session key is intact: {}", healthy.json);
    assert_eq!(healthy.json["data"]["nickName"], "Cleo");
}

#[tokio::test]
async fn a_wechat_login_whose_app_secret_cannot_be_decrypted_is_503_and_does_not_spend_the_code() {
    let env = TestEnv::new().await;
    let mp = env.miniprogram().await;
    let proxy = FaultProxy::start().await;
    proxy.always(target::DECRYPT, Fault::kms(500, "KMSInternalException", "An internal error occurred."));
    let reply = proxy.server(&env).await.wechat_login(&mp, "ok-dora").await;
    assert_unavailable(&reply, &["ok-dora", &format!("secret-{}", mp.appid)]);
    assert_eq!(env.mock_calls(&mp.appid).await["jscode2session"], 0, "WeChat was not asked: the code is unspent");
    let retried = env.login(&mp, "ok-dora").await;
    assert_eq!(retried.str("openid"), "openid-dora", "the same code logs in once KMS is back");
}

/// What DynamoDB answers a plain write on an item that a transaction in flight holds.
fn transaction_conflict() -> Fault {
    Fault::dynamodb(
        400,
        "com.amazonaws.dynamodb.v20120810#TransactionConflictException",
        "Transaction is ongoing for the item",
    )
}

#[tokio::test]
async fn a_revocation_that_meets_a_rotation_in_flight_tries_again_and_revokes() {
    let env = TestEnv::new().await;
    let (mp, login) = env.logged_in("ok-wilma").await;
    let token = login.str("refresh_token");
    let proxy = FaultProxy::start().await;
    proxy.first(2, target::UPDATE_ITEM, transaction_conflict());
    let reply = proxy.server(&env).await.revoke(&mp.client_id, token).await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    assert_eq!(proxy.calls(target::UPDATE_ITEM), 3, "two conflicts, then the write");
    let after = env.refresh(&mp.client_id, token).await;
    assert_eq!((after.status, after.error()), (400, "invalid_grant"), "the family is revoked: {}", after.json);
}

#[tokio::test]
async fn a_revocation_that_keeps_meeting_transactions_is_503_never_a_false_success() {
    let env = TestEnv::new().await;
    let (mp, login) = env.logged_in("ok-wendy").await;
    let token = login.str("refresh_token");
    let proxy = FaultProxy::start().await;
    proxy.always(target::UPDATE_ITEM, transaction_conflict());
    let reply = proxy.server(&env).await.revoke(&mp.client_id, token).await;
    assert_unavailable(&reply, &[token]);
    assert_eq!(proxy.calls(target::UPDATE_ITEM), 5, "the first attempt and four more");
    assert_still_refreshes(&env, &mp.client_id, token).await;
}

#[tokio::test]
async fn a_code_redemption_whose_answer_was_lost_is_no_replay() {
    let env = TestEnv::new().await;
    let client_id = env.web_client(&[], "openid").await;
    env.password_user("rita", "rita-password").await;
    let query = [
        ("response_type", "code"),
        ("client_id", client_id.as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("code_challenge", PKCE_CHALLENGE),
        ("code_challenge_method", "S256"),
    ];
    let page = open_sign_in(&env, &query).await.expect("the sign-in page");
    let code = location_params(&approve(&env, &page, "rita", "rita-password").await)["code"].clone();

    let proxy = FaultProxy::start().await;
    // DynamoDB marked the code used, and its answer was lost: the SDK's retry finds it used.
    proxy.first(1, target::UPDATE_ITEM, Fault::dynamodb_internal_error().after_forwarding());
    let reply = exchange(&proxy.server(&env).await, &client_id, &code, PKCE_VERIFIER).await;
    assert_eq!(reply.status, 200, "our own redemption, not a replay: {}", reply.json);
    assert_eq!(proxy.calls(target::UPDATE_ITEM), 2, "the redemption and its retry; nothing revoked");
    let next = env.refresh(&client_id, reply.str("refresh_token")).await;
    assert_eq!(next.status, 200, "the refresh token it issued lives: {}", next.json);
    let userinfo = env.protected("GET", "/userinfo", reply.str("access_token"), None).await;
    assert_eq!(userinfo.status, 200, "the access token it issued lives: {}", userinfo.json);
}

/// A public web client, a password user, and that user's sign-in page opened through `app`,
/// where "sid" signs in with "sid-password".
struct SignIn {
    client_id: String,
    page: wxauth_tests::SignInPage,
}

async fn sign_in_page(env: &TestEnv, app: &Server) -> SignIn {
    let client_id = env.web_client(&[], "openid").await;
    env.password_user("sid", "sid-password").await;
    let query = [
        ("response_type", "code"),
        ("client_id", client_id.as_str()),
        ("code_challenge", PKCE_CHALLENGE),
        ("code_challenge_method", "S256"),
    ];
    let page = open_sign_in(app, &query).await.expect("the page");
    SignIn { client_id, page }
}

/// How many requests to `target` named `needle` (a key prefix) the proxy saw.
fn requests_naming(proxy: &FaultProxy, target: &str, needle: &str) -> usize {
    proxy.requests(target).iter().filter(|r| r.to_string().contains(needle)).count()
}

#[tokio::test]
async fn a_sign_in_whose_consumption_answer_was_lost_still_redirects_with_a_code() {
    let env = TestEnv::new().await;
    let proxy = FaultProxy::start().await;
    let app = proxy.server(&env).await;
    let SignIn { page, .. } = sign_in_page(&env, &app).await;
    // DynamoDB marked the request consumed, and its answer was lost: the SDK's retry finds it so.
    // Every pending request's key starts so.
    let requests = wxauth::store::authorizations::request_key("").pk;
    proxy.first_containing(1, target::UPDATE_ITEM, &requests, Fault::dynamodb_internal_error().after_forwarding());
    let res = approve(&app, &page, "sid", "sid-password").await;
    assert!(location_params(&res).contains_key("code"), "our own consumption, not a second answer");
    assert_eq!(requests_naming(&proxy, target::UPDATE_ITEM, &requests), 2, "the consumption and the SDK's retry");
    // And the form cannot be answered again.
    let again = approve(&app, &page, "sid", "sid-password").await;
    assert_eq!(again.status(), 400);
}

#[tokio::test]
async fn a_code_whose_storing_answer_was_lost_is_still_issued_and_redeemable() {
    let env = TestEnv::new().await;
    let proxy = FaultProxy::start().await;
    let app = proxy.server(&env).await;
    let SignIn { client_id, page } = sign_in_page(&env, &app).await;
    // DynamoDB stored the code, and its answer was lost: the SDK puts it again.
    // Every code's key starts so.
    let codes = wxauth::store::authorizations::code_key("").pk;
    proxy.first_containing(1, target::PUT_ITEM, &codes, Fault::dynamodb_internal_error().after_forwarding());
    let res = approve(&app, &page, "sid", "sid-password").await;
    let code = location_params(&res).get("code").cloned().expect("a code, not a 500");
    assert_eq!(requests_naming(&proxy, target::PUT_ITEM, &codes), 2, "the put and the SDK's retry");
    let redeemed = env
        .token(&[
            ("grant_type", "authorization_code"),
            ("client_id", &client_id),
            ("code", &code),
            ("code_verifier", PKCE_VERIFIER),
        ])
        .await;
    assert_eq!(redeemed.status, 200, "{}", redeemed.json);
}

#[tokio::test]
async fn a_session_key_write_whose_answer_was_lost_keeps_the_real_previous_key() {
    let env = TestEnv::new().await;
    let (mp, _) = env.logged_in("ok-pia").await;
    let in_flight = encrypted_profile(&mock_session_key("pia"), &mp.appid, "Pia");
    let proxy = FaultProxy::start().await;
    // DynamoDB stored the new key, and its answer was lost: the SDK sends the update again.
    let session_keys =
        wxauth::store::session_keys::key(wxauth::domain::user::Openid { appid: &mp.appid, openid: "openid-pia" }).pk;
    proxy.first_containing(1, target::UPDATE_ITEM, &session_keys, Fault::dynamodb_internal_error().after_forwarding());
    let app = proxy.server(&env).await;
    let second = app.wechat_login(&mp, "ok-pia~2").await;
    assert_eq!(second.status, 200, "{}", second.json);
    assert!(requests_naming(&proxy, target::UPDATE_ITEM, &session_keys) >= 2, "the SDK retried the update");
    let access_token = second.str("access_token");
    let reply = decrypt(&env, access_token, &in_flight).await;
    assert_eq!(reply.status, 200, "data under the replaced key still decrypts: {}", reply.json);
    let fresh = decrypt(&env, access_token, &encrypted_profile(&mock_session_key("pia~2"), &mp.appid, "Pia")).await;
    assert_eq!(fresh.status, 200, "and under the new one: {}", fresh.json);
}

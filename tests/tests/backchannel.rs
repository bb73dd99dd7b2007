//! Back-Channel Logout 1.0 end to end: a session ends (logout, an admin's revoke-all), its
//! notices go through the SQS queue on moto, and the local server's event source hands them to
//! `backchannel-logout`'s handler, which POSTs a fresh logout token to each relying party; what
//! fails comes back, and after the queue's receive limit waits in the dead-letter queue.

use std::time::Duration;

use serde_json::Value;
use wxauth::oauth::logout;
use wxauth_local::event_source::{Polled, poll_once};
use wxauth_tests::browser::{Browser, end_session};
use wxauth_tests::faults::{Fault, FaultProxy, target};
use wxauth_tests::relying_party::RelyingParty;
use wxauth_tests::sign_in::{PKCE_VERIFIER, code_request, exchange};
use wxauth_tests::{ISSUER, LOGOUT_RECEIVES, Reply, TestEnv};

const PASSWORD: &str = "correct horse";

/// One receive of the local event source, without waiting.
async fn poll(env: &TestEnv) -> Polled {
    poll_once(&env.app, Duration::ZERO).await.expect("a poll")
}

/// A new user `username` signed in to `client` in a new browser: the browser and the client's
/// tokens.
async fn signed_in(env: &TestEnv, client: &str, username: &str) -> (Browser, Reply) {
    env.password_user(username, PASSWORD).await;
    signed_in_again(env, client, username).await
}

/// `username` signed in to `client` in another new browser.
async fn signed_in_again(env: &TestEnv, client: &str, username: &str) -> (Browser, Reply) {
    let mut browser = Browser::default();
    let code = browser.sign_in(env, &code_request(client, "openid", "s"), username, PASSWORD).await;
    let tokens = exchange(env, client, &code, PKCE_VERIFIER).await;
    assert_eq!(tokens.status, 200, "{}", tokens.json);
    (browser, tokens)
}

fn claims(jwt: &str) -> Value {
    jsonwebtoken::dangerous::insecure_decode::<Value>(jwt).expect("a JWT").claims
}

/// The claims of a logout token, checked as Back-Channel Logout 1.0 §2.6 has a relying party
/// check it: `typ`, the signature by a key of our JWKS with its registered algorithm, `iss`,
/// the event, `sid`, no `nonce`; and its lifetime of two minutes.
async fn verified(env: &TestEnv, token: &str) -> Value {
    let header = jsonwebtoken::decode_header(token).expect("a JWS");
    assert_eq!(header.typ.as_deref(), Some("logout+jwt"));
    let now = wxauth::clock::unix_now();
    let key = env.app.keys.find(header.kid.as_deref().expect("kid"), now).await.expect("registry").expect("our key");
    assert_eq!(header.alg, key.jwk.alg.jsonwebtoken());
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.set_issuer(&[ISSUER]);
    validation.validate_aud = false;
    validation.set_required_spec_claims(&["iss", "aud", "iat", "exp"]);
    let decoding_key = key.jwk.decoding_key().expect("a key");
    let claims = jsonwebtoken::decode::<Value>(token, &decoding_key, &validation).expect("it verifies").claims;
    assert_eq!(claims["events"], serde_json::json!({"http://schemas.openid.net/event/backchannel-logout": {}}));
    assert!(claims.get("nonce").is_none(), "never a nonce");
    assert!(claims["jti"].is_string() && claims["sid"].is_string(), "{claims}");
    assert_eq!(claims["exp"].as_i64().expect("exp") - claims["iat"].as_i64().expect("iat"), 120);
    claims
}

/// Every message waiting in `url`.
async fn waiting(env: &TestEnv, url: &str) -> Vec<String> {
    let received = env.app.logout_queue.sqs().receive_message().queue_url(url).max_number_of_messages(10).send().await;
    received.expect("receive").messages.unwrap_or_default().into_iter().filter_map(|m| m.body).collect()
}

#[tokio::test]
async fn a_logout_tells_each_relying_party_of_the_session_once_with_a_token_of_its_own() {
    let (env, queues) = TestEnv::with_logout_queue().await;
    let (rp_a, rp_b) = (RelyingParty::start().await, RelyingParty::start().await);
    let a = env.web_client_with_backchannel(&rp_a.url).await;
    let b = env.web_client_with_backchannel(&rp_b.url).await;
    let untold = env.web_client_with_logout().await;
    let (mut browser, tokens) = signed_in(&env, &a, "bcl-ada").await;
    for client in [&b, &untold] {
        browser.consent(&env, &code_request(client, "openid", "c")).await;
    }
    let id = claims(tokens.str("id_token"));

    // The logout through the fault proxy, to count what it costs.
    let proxy = FaultProxy::start().await;
    let server = proxy.server(&env).await;
    let res = end_session(&server, &browser, &[("id_token_hint", tokens.str("id_token"))]).await;
    assert_eq!(res.status(), 200, "signed out");
    let counts: Vec<(String, usize)> = proxy.targets().into_iter().map(|t| (t.clone(), proxy.calls(&t))).collect();
    eprintln!("a logout with two back-channel relying parties: {counts:?}");
    assert_eq!(proxy.calls(target::SEND_MESSAGE_BATCH), 1, "one batch for both notices");

    assert_eq!(poll(&env).await, Polled { received: 2, failed: 0 });
    let mut jtis = Vec::new();
    for (rp, client) in [(&rp_a, &a), (&rp_b, &b)] {
        let received = rp.tokens();
        assert_eq!(received.len(), 1, "{client} is told once");
        let logout = verified(&env, &received[0]).await;
        assert_eq!(
            (&logout["aud"], &logout["sub"], &logout["sid"]),
            (&Value::from(client.as_str()), &id["sub"], &id["sid"])
        );
        jtis.push(logout["jti"].clone());
    }
    assert_ne!(jtis[0], jtis[1], "a token per relying party");
    assert_eq!(poll(&env).await, Polled::default(), "nothing left");
    assert!(waiting(&env, &queues.dead_letter_url).await.is_empty());
}

#[tokio::test]
async fn a_relying_party_that_fails_once_gets_a_fresh_token_on_the_retry_and_nothing_is_lost() {
    let (env, queues) = TestEnv::with_logout_queue().await;
    let rp = RelyingParty::start().await;
    rp.answer(&[500]);
    let client = env.web_client_with_backchannel(&rp.url).await;
    let (browser, tokens) = signed_in(&env, &client, "bcl-ben").await;
    let res = end_session(&env, &browser, &[("id_token_hint", tokens.str("id_token"))]).await;
    assert_eq!(res.status(), 200);

    assert_eq!(poll(&env).await, Polled { received: 1, failed: 1 }, "500: reported back to the queue");
    assert_eq!(poll(&env).await, Polled { received: 1, failed: 0 }, "delivered on the retry");
    assert_eq!(poll(&env).await, Polled::default(), "delivered once more, then gone");
    let received = rp.tokens();
    assert_eq!(received.len(), 2);
    let (first, second) = (verified(&env, &received[0]).await, verified(&env, &received[1]).await);
    assert_ne!(first["jti"], second["jti"], "a logout token is never reused");
    assert_eq!(first["sid"], second["sid"]);
    assert!(waiting(&env, &queues.dead_letter_url).await.is_empty());
}

#[tokio::test]
async fn a_relying_party_that_stays_down_leaves_its_notice_in_the_dead_letter_queue() {
    let (env, queues) = TestEnv::with_logout_queue().await;
    // Nothing listens on port 9 here.
    let client = env.web_client_with_backchannel("http://127.0.0.1:9/backchannel-logout").await;
    let (browser, tokens) = signed_in(&env, &client, "bcl-cy").await;
    end_session(&env, &browser, &[("id_token_hint", tokens.str("id_token"))]).await;

    for attempt in 1..=LOGOUT_RECEIVES {
        assert_eq!(poll(&env).await, Polled { received: 1, failed: 1 }, "attempt {attempt}");
    }
    assert_eq!(poll(&env).await, Polled::default(), "the receive limit moved it");
    let dead = waiting(&env, &queues.dead_letter_url).await;
    assert_eq!(dead.len(), 1);
    let notice = wxauth::queue::decode(&dead[0]).expect("the notice, kept");
    assert_eq!(
        (notice.client_id.as_str(), notice.sid.as_str()),
        (client.as_str(), claims(tokens.str("id_token"))["sid"].as_str().expect("sid"))
    );
    assert!(!dead[0].contains("eyJ"), "no token in the queue: {}", dead[0]);
}

#[tokio::test]
async fn sqs_throttled_at_logout_answers_503_and_keeps_the_session_for_another_try() {
    let (env, _) = TestEnv::with_logout_queue().await;
    let rp = RelyingParty::start().await;
    let client = env.web_client_with_backchannel(&rp.url).await;
    let (browser, tokens) = signed_in(&env, &client, "bcl-dee").await;
    let proxy = FaultProxy::start().await;
    proxy.always(target::SEND_MESSAGE_BATCH, Fault::sqs_throttling());
    let server = proxy.server(&env).await;
    let hint = [("id_token_hint", tokens.str("id_token"))];

    let res = end_session(&server, &browser, &hint).await;
    assert_eq!(res.status(), 503);
    assert!(res.headers().get("retry-after").is_some(), "Retry-After");
    assert!(proxy.calls(target::SEND_MESSAGE_BATCH) > 1, "the SDK retried the throttling");
    browser.silent_code(&env, &[code_request(&client, "openid", "t"), vec![("prompt", "none")]].concat()).await;
    assert_eq!(poll(&env).await, Polled::default(), "nothing was queued");

    proxy.heal();
    assert_eq!(end_session(&server, &browser, &hint).await.status(), 200, "the logout, tried again");
    assert_eq!(poll(&env).await, Polled { received: 1, failed: 0 });
    assert_eq!(rp.tokens().len(), 1);
}

#[tokio::test]
async fn ending_all_of_a_users_sessions_tells_the_relying_party_of_each() {
    let (env, _) = TestEnv::with_logout_queue().await;
    let rp = RelyingParty::start().await;
    let client = env.web_client_with_backchannel(&rp.url).await;
    let (_, first) = signed_in(&env, &client, "bcl-eve").await;
    let (_, second) = signed_in_again(&env, &client, "bcl-eve").await;
    let user = claims(first.str("id_token"))["sub"].as_str().expect("sub").to_string();

    let now = wxauth::clock::unix_now();
    let ended = logout::end_user_sessions(&env.app.store, &env.app.logout_queue, &user, now).await.expect("ended");
    assert_eq!((ended.sessions, ended.notices), (2, 2));
    assert_eq!(poll(&env).await, Polled { received: 2, failed: 0 });
    let mut told: Vec<Value> = Vec::new();
    for token in rp.tokens() {
        told.push(verified(&env, &token).await["sid"].clone());
    }
    told.sort_by_key(|sid| sid.to_string());
    let mut sids = vec![claims(first.str("id_token"))["sid"].clone(), claims(second.str("id_token"))["sid"].clone()];
    sids.sort_by_key(|sid| sid.to_string());
    assert_eq!(told, sids, "one token per session");
}

#[tokio::test]
async fn a_deleted_client_is_told_nothing_and_a_message_that_is_no_notice_is_dropped() {
    let (env, queues) = TestEnv::with_logout_queue().await;
    let rp = RelyingParty::start().await;
    let client = env.web_client_with_backchannel(&rp.url).await;
    let (browser, tokens) = signed_in(&env, &client, "bcl-fay").await;
    end_session(&env, &browser, &[("id_token_hint", tokens.str("id_token"))]).await;
    assert!(env.app.store.delete_client(&client).await.expect("deleted"));
    let sqs = env.app.logout_queue.sqs();
    sqs.send_message().queue_url(&queues.url).message_body("not a notice").send().await.expect("sent");

    assert_eq!(poll(&env).await, Polled { received: 2, failed: 0 }, "neither is retried");
    assert!(rp.tokens().is_empty());
    assert!(waiting(&env, &queues.dead_letter_url).await.is_empty());
}

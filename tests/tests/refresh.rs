//! Refresh tokens: rotation, reuse detection, races, expiry, scope, and clients.

use wxauth::store::refresh_tokens::token_key;
use wxauth_tests::{Reply, TestEnv};

fn sub(reply: &Reply) -> String {
    reply.claims()["sub"].as_str().expect("sub").to_string()
}

#[tokio::test]
async fn a_refresh_rotates_the_token_and_keeps_the_subject() {
    let env = TestEnv::new().await;
    let (mp, login) = env.logged_in("ok-rita").await;
    let refreshed = env.refresh(&mp.client_id, login.str("refresh_token")).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.json);
    assert_ne!(refreshed.str("refresh_token"), login.str("refresh_token"));
    assert_eq!(sub(&refreshed), sub(&login));
    assert_eq!(refreshed.str("scope"), login.str("scope"));
    assert_eq!(refreshed.header("cache-control"), Some("no-store"));
    env.verify_with_jwks(refreshed.str("access_token")).await;

    let next = env.refresh(&mp.client_id, refreshed.str("refresh_token")).await;
    assert_eq!(next.status, 200, "the rotated token works in turn");
}

#[tokio::test]
async fn a_reused_refresh_token_revokes_the_family() {
    let env = TestEnv::new().await;
    let (mp, login) = env.logged_in("ok-rita").await;
    let first = login.str("refresh_token");
    let rotated = env.refresh(&mp.client_id, first).await;
    assert_eq!(rotated.status, 200);

    let replay = env.refresh(&mp.client_id, first).await;
    assert_eq!((replay.status, replay.error()), (400, "invalid_grant"));
    let legit = env.refresh(&mp.client_id, rotated.str("refresh_token")).await;
    assert_eq!((legit.status, legit.error()), (400, "invalid_grant"), "the whole family is revoked");
}

#[tokio::test]
async fn of_twenty_concurrent_refreshes_of_one_token_exactly_one_succeeds() {
    let env = TestEnv::new().await;
    let (mp, login) = env.logged_in("ok-rita").await;
    let token = login.str("refresh_token");
    let attempts = (0..20).map(|_| env.refresh(&mp.client_id, token));
    let replies = futures::future::join_all(attempts).await;
    let won: Vec<&Reply> = replies.iter().filter(|r| r.status == 200).collect();
    assert_eq!(won.len(), 1, "statuses: {:?}", replies.iter().map(|r| r.status).collect::<Vec<_>>());
    assert!(replies.iter().filter(|r| r.status != 200).all(|r| (r.status, r.error()) == (400, "invalid_grant")));
    // Without a grace period the losers are reuse: the family, the winner's token included, is revoked.
    let winner = env.refresh(&mp.client_id, won[0].str("refresh_token")).await;
    assert_eq!((winner.status, winner.error()), (400, "invalid_grant"));
}

#[tokio::test]
async fn within_the_reuse_grace_a_retry_replaces_the_lost_successor() {
    let env = TestEnv::with_config(|c| c.refresh_reuse_grace = std::time::Duration::from_secs(30)).await;
    let (mp, login) = env.logged_in("ok-rita").await;
    let first = login.str("refresh_token");
    let lost = env.refresh(&mp.client_id, first).await; // its response never reached the client
    assert_eq!(lost.status, 200);
    let retried = env.refresh(&mp.client_id, first).await;
    assert_eq!(retried.status, 200, "{}", retried.json);
    assert_eq!(
        env.refresh(&mp.client_id, retried.str("refresh_token")).await.status,
        200,
        "the retry's token lives on"
    );
}

#[tokio::test]
async fn within_the_reuse_grace_the_family_still_has_one_live_token() {
    let env = TestEnv::with_config(|c| c.refresh_reuse_grace = std::time::Duration::from_secs(30)).await;
    let (mp, login) = env.logged_in("ok-rita").await;
    let first = login.str("refresh_token");
    let successor = env.refresh(&mp.client_id, first).await;
    let retried = env.refresh(&mp.client_id, first).await;
    assert_eq!(retried.status, 200);
    // The replaced successor is retired: presenting it is reuse, and ends the family.
    let stale = env.refresh(&mp.client_id, successor.str("refresh_token")).await;
    assert_eq!((stale.status, stale.error()), (400, "invalid_grant"));
    let after = env.refresh(&mp.client_id, retried.str("refresh_token")).await;
    assert_eq!((after.status, after.error()), (400, "invalid_grant"), "no second chain survives");
}

#[tokio::test]
async fn a_replay_within_the_grace_after_the_successor_was_used_revokes_the_family() {
    let env = TestEnv::with_config(|c| c.refresh_reuse_grace = std::time::Duration::from_secs(30)).await;
    let (mp, login) = env.logged_in("ok-rita").await;
    let first = login.str("refresh_token");
    let successor = env.refresh(&mp.client_id, first).await;
    let next = env.refresh(&mp.client_id, successor.str("refresh_token")).await;
    assert_eq!(next.status, 200);
    let replay = env.refresh(&mp.client_id, first).await; // a thief with the first token
    assert_eq!((replay.status, replay.error()), (400, "invalid_grant"));
    let legit = env.refresh(&mp.client_id, next.str("refresh_token")).await;
    assert_eq!((legit.status, legit.error()), (400, "invalid_grant"), "the family is revoked");
}

#[tokio::test]
async fn a_refresh_is_limited_to_what_the_client_may_still_have() {
    // Clients read afresh each time: with the cache, the change takes CLIENT_CACHE_TTL.
    let env = TestEnv::with_config(|c| c.client_cache_ttl = std::time::Duration::ZERO).await;
    let (mp, login) = env.logged_in("ok-rita").await;
    // An administrator narrows the client after the grant.
    env.app
        .store
        .dynamodb()
        .update_item()
        .table_name(env.app.store.table())
        .set_key(Some(wxauth::store::clients::key(&mp.client_id).attributes()))
        .update_expression("SET #scope = :s")
        .expression_attribute_names("#scope", "scope")
        .expression_attribute_values(":s", aws_sdk_dynamodb::types::AttributeValue::S("openid".into()))
        .send()
        .await
        .expect("narrow the client");
    let refreshed = env.refresh(&mp.client_id, login.str("refresh_token")).await;
    assert_eq!(refreshed.status, 200);
    assert_eq!(refreshed.str("scope"), "openid");
}

#[tokio::test]
async fn an_expired_refresh_token_is_rejected_although_the_item_still_exists() {
    let env = TestEnv::new().await;
    let (mp, login) = env.logged_in("ok-rita").await;
    let token = login.str("refresh_token");
    let key = token_key(&wxauth::secret::hash(token));
    env.expire_item(&key).await;
    assert!(env.raw_item(&key).await.is_some(), "TTL has not deleted it");
    let reply = env.refresh(&mp.client_id, token).await;
    assert_eq!((reply.status, reply.error()), (400, "invalid_grant"));
}

#[tokio::test]
async fn refresh_tokens_are_stored_only_as_hashes() {
    let env = TestEnv::new().await;
    let (_, login) = env.logged_in("ok-rita").await;
    let token = login.str("refresh_token");
    let item = env.raw_item(&token_key(&wxauth::secret::hash(token))).await.expect("stored by hash");
    assert!(!format!("{item:?}").contains(token));
}

#[tokio::test]
async fn another_client_cannot_use_the_refresh_token() {
    let env = TestEnv::new().await;
    let (mp, login) = env.logged_in("ok-rita").await;
    let thief = env.miniprogram().await;
    let stolen = env.refresh(&thief.client_id, login.str("refresh_token")).await;
    assert_eq!((stolen.status, stolen.error()), (400, "invalid_grant"));
    assert_eq!(env.refresh(&mp.client_id, login.str("refresh_token")).await.status, 200, "the owner still can");
}

#[tokio::test]
async fn a_refresh_may_narrow_the_scope_but_never_widen_it() {
    let env = TestEnv::new().await;
    let mp = env.miniprogram().await;
    let login = env.wechat_login_scoped(&mp, "ok-sam", "openid profile").await;
    assert_eq!(login.str("scope"), "openid profile");

    let wider = env.refresh_scoped(&mp.client_id, login.str("refresh_token"), "openid phone").await;
    assert_eq!((wider.status, wider.error()), (400, "invalid_scope"));

    let narrower = env.refresh_scoped(&mp.client_id, login.str("refresh_token"), "openid").await;
    assert_eq!(narrower.status, 200, "a refused widening did not spend the token: {}", narrower.json);
    assert_eq!(narrower.str("scope"), "openid");

    let after = env.refresh(&mp.client_id, narrower.str("refresh_token")).await;
    assert_eq!(after.str("scope"), "openid profile", "the refresh token keeps the original grant");
}

#[tokio::test]
async fn an_unknown_refresh_token_is_invalid_grant() {
    let env = TestEnv::new().await;
    let mp = env.miniprogram().await;
    let reply = env.refresh(&mp.client_id, "not-a-token-we-issued").await;
    assert_eq!((reply.status, reply.error()), (400, "invalid_grant"));
}

#[tokio::test]
async fn revoke_all_ends_every_family_of_the_user_and_no_other() {
    let env = TestEnv::new().await;
    let mp = env.miniprogram().await;
    let phone = env.login(&mp, "ok-tom").await;
    let tablet = env.login(&mp, "ok-tom~2").await;
    let someone_else = env.login(&mp, "ok-una").await;
    let revoked =
        env.app.store.revoke_user_families(&sub(&phone), wxauth::clock::unix_now()).await.expect("revoke-all");
    assert_eq!(revoked, 2);
    for login in [&phone, &tablet] {
        let reply = env.refresh(&mp.client_id, login.str("refresh_token")).await;
        assert_eq!((reply.status, reply.error()), (400, "invalid_grant"));
    }
    assert_eq!(env.refresh(&mp.client_id, someone_else.str("refresh_token")).await.status, 200);
}

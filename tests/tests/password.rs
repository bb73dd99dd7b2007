//! The token endpoint's `password` grant: for clients registered for it, usernames without
//! case, and the lockout after repeated failures, under concurrency too.

use wxauth::domain::client::ClientKind;
use wxauth::store::password_failures;
use wxauth_tests::TestEnv;

/// A confidential client allowed the password grant: id and secret.
async fn password_client(env: &TestEnv) -> (String, String) {
    let (id, secret) = env.client(ClientKind::Confidential, &["password"], &[], "openid", None).await;
    (id, secret.expect("secret"))
}

#[tokio::test]
async fn the_password_grant_needs_explicit_registration_and_locks_after_repeated_failures() {
    let env = TestEnv::new().await;
    env.password_user("gina", "gina's password").await;
    let (allowed, secret) =
        env.client(ClientKind::Confidential, &["password", "refresh_token"], &[], "openid", None).await;
    let allowed = (allowed, secret.expect("secret"));
    let (not_allowed, other_secret) = env.client(ClientKind::Confidential, &[], &[], "openid", None).await;
    let attempt = |password: &'static str| env.password_grant(&allowed, "Gina", password);
    let ok = attempt("gina's password").await;
    assert_eq!(ok.status, 200, "usernames are case-insensitive: {}", ok.json);
    assert!(ok.json["refresh_token"].is_string());
    let not_allowed = (not_allowed, other_secret.expect("secret"));
    let refused = env.password_grant(&not_allowed, "gina", "gina's password").await;
    assert_eq!((refused.status, refused.error()), (400, "unauthorized_client"));

    let unknown = env.password_grant(&allowed, "nobody", "whatever").await;
    for _ in 0..wxauth::domain::lockout::MAX_FAILURES {
        let wrong = attempt("not it").await;
        assert_eq!((wrong.status, wrong.error()), (400, "invalid_grant"));
        assert_eq!(wrong.json["error_description"], unknown.json["error_description"], "no user enumeration");
    }
    let locked = attempt("gina's password").await;
    assert_eq!((locked.status, locked.error()), (400, "invalid_grant"), "locked, though the password is right");
    assert_eq!(locked.json["error_description"], unknown.json["error_description"]);

    // The lock runs out (moved into the past, as time would).
    env.expire_item(&password_failures::key("gina")).await;
    assert_eq!(attempt("gina's password").await.status, 200, "unlocked once the lock has expired");
}

#[tokio::test]
async fn concurrent_right_passwords_are_never_refused_for_each_other() {
    let env = TestEnv::new().await;
    env.password_user("hana", "hana's password").await;
    let client = password_client(&env).await;
    // More at once than the lockout allows failures: counted before their checks, they used to
    // lock each other out below the limit with no wrong password at all.
    let attempts = (0..8).map(|_| env.password_grant(&client, "hana", "hana's password"));
    let replies = futures::future::join_all(attempts).await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![200; 8], "{:?}", replies.iter().map(|r| &r.json).collect::<Vec<_>>());
    assert_eq!(env.password_grant(&client, "hana", "hana's password").await.status, 200, "not locked after");
}

#[tokio::test]
async fn a_parallel_guessing_attack_gets_no_more_checks_than_the_lockout_allows() {
    let env = TestEnv::new().await;
    env.password_user("jade", "jade's password").await;
    let client = password_client(&env).await;
    let guesses = (0..20).map(|i| {
        let (env, client) = (&env, &client);
        async move { env.password_grant(client, "jade", &format!("guess {i}")).await }
    });
    for reply in futures::future::join_all(guesses).await {
        assert_eq!((reply.status, reply.error()), (400, "invalid_grant"));
    }
    let counter = env.raw_item(&password_failures::key("jade")).await.expect("a failure counter");
    assert_eq!(
        counter.get("failures").and_then(|v| v.as_n().ok()).map(String::as_str),
        Some(wxauth::domain::lockout::MAX_FAILURES.to_string().as_str()),
        "exactly the allowed checks were made, the rest refused unchecked: {counter:?}"
    );
    let right = env.password_grant(&client, "jade", "jade's password").await;
    assert_eq!((right.status, right.error()), (400, "invalid_grant"), "locked, though the password is right");
}

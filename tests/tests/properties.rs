//! Properties over sequences of requests against the real store (moto): whatever a client does
//! with its refresh tokens, in whatever order and concurrency, a family never has two live
//! tokens, and once it is revoked none of them works.

use std::time::Duration;

use proptest::prelude::*;
use wxauth::secret::hash;
use wxauth_tests::TestEnv;

#[derive(Debug, Clone)]
enum Step {
    /// Refresh with the newest token the client holds.
    Refresh,
    /// Present the `n`th token issued so far again (a replay, or a retry after a lost answer).
    Replay(usize),
    /// Two refreshes of the newest token at once.
    Race,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![3 => Just(Step::Refresh), 2 => (0usize..8).prop_map(Step::Replay), 1 => Just(Step::Race)]
}

/// Live tokens of the family: stored, unused, not retired, in a family not revoked.
async fn live(env: &TestEnv, issued: &[String]) -> usize {
    let now = wxauth::clock::unix_now();
    let mut live = 0;
    for token in issued {
        let Some(record) = env.app.store.refresh_token(&hash(token), now).await.expect("read") else { continue };
        let family = env.app.store.family(&record.family_id, now).await.expect("read").expect("family");
        if record.used_at.is_none() && !record.superseded && !family.revoked {
            live += 1;
        }
    }
    live
}

async fn run(steps: Vec<Step>, grace: u64) -> Result<(), TestCaseError> {
    let env = TestEnv::with_config(|c| c.refresh_reuse_grace = Duration::from_secs(grace)).await;
    let mp = env.miniprogram().await;
    let login = env.login(&mp, &format!("ok-prop-{}", wxauth::secret::random_id())).await;
    let mut issued = vec![login.str("refresh_token").to_string()];
    let mut newest = issued[0].clone();
    for step in steps {
        let presented: Vec<String> = match &step {
            Step::Refresh => vec![newest.clone()],
            Step::Replay(n) => vec![issued[n % issued.len()].clone()],
            Step::Race => vec![newest.clone(), newest.clone()],
        };
        let replies = futures::future::join_all(presented.iter().map(|t| env.refresh(&mp.client_id, t))).await;
        for reply in &replies {
            prop_assert!(reply.status == 200 || reply.error() == "invalid_grant", "{step:?}: {}", reply.json);
            if reply.status == 200 {
                newest = reply.str("refresh_token").to_string();
                issued.push(newest.clone());
            }
        }
        let live = live(&env, &issued).await;
        prop_assert!(live <= 1, "after {step:?}: {live} live tokens in one family");
        if live == 0 {
            // Revoked (or used up): nothing the client holds refreshes any more.
            for token in &issued {
                prop_assert_eq!(env.refresh(&mp.client_id, token).await.status, 400);
            }
            return Ok(());
        }
    }
    Ok(())
}

proptest! {
    // Each case is a deployment of its own on moto: a few cases, each a long sequence.
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]
    #[test]
    fn a_refresh_chain_never_has_two_live_tokens(steps in proptest::collection::vec(step(), 1..10), grace in prop_oneof![Just(0u64), Just(60u64)]) {
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
        runtime.block_on(run(steps, grace))?;
    }
}

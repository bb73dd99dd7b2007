//! Each request ends before its Lambda invocation's deadline, with an answer of ours.
//!
//! Every DynamoDB or KMS call is bounded (`AWS_CALL_TIMEOUT_MS`), but a handler makes several in
//! a row, so under throttling their sum can outlast the function's timeout. Lambda would then
//! kill the invocation and API Gateway answer with its own bare 5xx, without `Retry-After`,
//! with nothing logged by us. [`within`] answers `503 temporarily_unavailable` just before that.
//!
//! The Runtime API sends the deadline as absolute Unix milliseconds (`Lambda-Runtime-Deadline-Ms`).
//! Local emulators do not all do so: `cargo lambda watch` sends a duration (600000), others 0.
//! Taken at its word, either leaves no time at all and every request would be cut off at once;
//! so a deadline that cannot be an absolute one is treated as absent, and the request gets the
//! configured fallback (`DEADLINE_FALLBACK_MS`, the shortest function timeout of template.yaml).

use std::future::Future;
use std::sync::Once;
use std::time::{Duration, SystemTime};

use lambda_http::{Request, RequestExt as _};

use crate::error::OAuthError;
use crate::http::{Response, error_response};

/// Kept back from the deadline to answer and log in.
pub const MARGIN: Duration = Duration::from_millis(250);

/// Lambda's longest function timeout: no real deadline is further ahead.
const LONGEST_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// Runs `handle` on `req`, answering 503 if it is still running [`MARGIN`] before the
/// invocation's deadline, or before `fallback` has passed when the Runtime API sent no usable
/// deadline. A request that is no invocation (the local server, tests) has no deadline.
pub async fn within<F, Fut>(fallback: Duration, req: Request, handle: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    let Some(context) = req.lambda_context_ref() else { return handle(req).await };
    let now = SystemTime::now();
    let deadline = plausible_deadline(context.deadline, now).unwrap_or_else(|| {
        warn_once_of_unusable_deadline(context.deadline, fallback);
        now + fallback
    });
    let budget = budget_until(deadline);
    match tokio::time::timeout(budget, handle(req)).await {
        Ok(res) => res,
        Err(_) => {
            tracing::error!(budget_ms = budget.as_millis() as u64, "request cut off before the invocation's deadline");
            error_response(&out_of_time())
        }
    }
}

/// `deadline_ms` as the absolute time it should be: after `now`, and no further ahead than
/// Lambda's longest timeout (a little more, for clocks apart).
fn plausible_deadline(deadline_ms: u64, now: SystemTime) -> Option<SystemTime> {
    let deadline = SystemTime::UNIX_EPOCH.checked_add(Duration::from_millis(deadline_ms))?;
    let ahead = deadline.duration_since(now).ok()?;
    (ahead > Duration::ZERO && ahead <= LONGEST_TIMEOUT + Duration::from_secs(5)).then_some(deadline)
}

/// Once per container: the Runtime API is then an emulator's, and every request gets the fallback.
fn warn_once_of_unusable_deadline(deadline_ms: u64, fallback: Duration) {
    static WARNED: Once = Once::new();
    WARNED.call_once(|| {
        tracing::warn!(
            deadline_ms,
            fallback_ms = fallback.as_millis() as u64,
            "the Runtime API's deadline is not an absolute time within 15 minutes; using DEADLINE_FALLBACK_MS instead"
        );
    });
}

/// The time left before `deadline`, less [`MARGIN`] (zero when that is already past).
fn budget_until(deadline: SystemTime) -> Duration {
    deadline.duration_since(SystemTime::now()).unwrap_or_default().saturating_sub(MARGIN)
}

fn out_of_time() -> OAuthError {
    OAuthError::temporarily_unavailable("the service is slow to answer; retry shortly").with_retry_after(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::{Body, Context};

    const FALLBACK: Duration = Duration::from_secs(5);

    fn unix_ms(time: SystemTime) -> u64 {
        time.duration_since(SystemTime::UNIX_EPOCH).expect("after 1970").as_millis() as u64
    }

    fn invocation_with(deadline_ms: u64) -> Request {
        let mut context = Context::default();
        context.deadline = deadline_ms;
        http::Request::builder().uri("/oauth/token").body(Body::Empty).expect("request").with_lambda_context(context)
    }

    fn invocation(deadline_in: Duration) -> Request {
        invocation_with(unix_ms(SystemTime::now() + deadline_in))
    }

    async fn quick_answer(req: Request) -> Response {
        within(FALLBACK, req, |_| async { crate::http::json_response(200, &serde_json::json!({})) }).await
    }

    async fn slow_answer(fallback: Duration, req: Request) -> Response {
        within(fallback, req, |_| async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            crate::http::json_response(200, &serde_json::json!({}))
        })
        .await
    }

    #[tokio::test]
    async fn a_request_that_outlasts_the_deadline_is_503_with_retry_after() {
        let res = slow_answer(FALLBACK, invocation(MARGIN + Duration::from_millis(50))).await;
        assert_eq!(res.status(), 503);
        assert_eq!(res.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
        let body: serde_json::Value = serde_json::from_slice(res.body().as_ref()).expect("json");
        assert_eq!(body["error"], "temporarily_unavailable");
    }

    #[tokio::test]
    async fn a_request_within_the_deadline_gets_its_own_answer() {
        assert_eq!(quick_answer(invocation(Duration::from_secs(5))).await.status(), 200);
    }

    // cargo lambda watch sends the function's timeout as a duration: taken as an absolute time
    // it is in 1970, and every request was cut off at once.
    #[tokio::test]
    async fn a_relative_deadline_is_treated_as_absent() {
        assert_eq!(quick_answer(invocation_with(600_000)).await.status(), 200);
    }

    #[tokio::test]
    async fn a_zero_deadline_is_treated_as_absent() {
        assert_eq!(quick_answer(invocation_with(0)).await.status(), 200);
    }

    #[tokio::test]
    async fn a_missing_deadline_is_treated_as_absent() {
        let req = http::Request::builder().uri("/").body(Body::Empty).expect("request");
        let req = req.with_lambda_context(Context::default());
        assert_eq!(quick_answer(req).await.status(), 200);
    }

    #[tokio::test]
    async fn a_garbage_deadline_is_treated_as_absent() {
        assert_eq!(quick_answer(invocation_with(u64::MAX)).await.status(), 200);
        assert_eq!(quick_answer(invocation(Duration::from_secs(3600))).await.status(), 200);
    }

    #[tokio::test]
    async fn an_absent_deadline_still_bounds_the_request_by_the_fallback() {
        let started = std::time::Instant::now();
        let res = slow_answer(MARGIN + Duration::from_millis(50), invocation_with(600_000)).await;
        assert_eq!(res.status(), 503);
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn only_an_absolute_time_within_fifteen_minutes_is_a_deadline() {
        let now = SystemTime::now();
        let in_ms = |d: Duration| unix_ms(now + d);
        assert!(plausible_deadline(in_ms(Duration::from_secs(3)), now).is_some());
        assert!(plausible_deadline(in_ms(Duration::from_secs(900)), now).is_some());
        assert_eq!(plausible_deadline(in_ms(Duration::from_secs(901 + 5)), now), None);
        assert_eq!(plausible_deadline(unix_ms(now - Duration::from_secs(1)), now), None);
        assert_eq!(plausible_deadline(600_000, now), None);
        assert_eq!(plausible_deadline(0, now), None);
        assert_eq!(plausible_deadline(u64::MAX, now), None);
    }

    #[tokio::test]
    async fn without_an_invocation_there_is_no_deadline() {
        let req = http::Request::builder().uri("/").body(Body::Empty).expect("request");
        let res =
            within(Duration::ZERO, req, |_| async { crate::http::json_response(204, &serde_json::json!({})) }).await;
        assert_eq!(res.status(), 204);
    }

    #[test]
    fn a_past_deadline_leaves_no_budget() {
        assert_eq!(budget_until(SystemTime::now() - Duration::from_secs(1)), Duration::ZERO);
        assert!(budget_until(SystemTime::now() + Duration::from_secs(5)) <= Duration::from_secs(5) - MARGIN);
    }
}

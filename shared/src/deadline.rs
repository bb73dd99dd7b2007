//! Each request ends before its Lambda invocation's deadline, with an answer of ours.
//!
//! Every DynamoDB or KMS call is bounded (`AWS_CALL_TIMEOUT_MS`), but a handler makes several in
//! a row, so under throttling their sum can outlast the function's timeout. Lambda would then
//! kill the invocation and API Gateway answer with its own bare 5xx, without `Retry-After`,
//! with nothing logged by us. [`within`] answers `503 temporarily_unavailable` just before that.

use std::future::Future;
use std::time::{Duration, SystemTime};

use lambda_http::{Request, RequestExt as _};

use crate::http::{Response, error_response};
use crate::oauth::error::OAuthError;

/// Kept back from the deadline to answer and log in.
pub const MARGIN: Duration = Duration::from_millis(250);

/// Runs `handle` on `req`, answering 503 if it is still running [`MARGIN`] before the
/// invocation's deadline. Outside Lambda (the local server, tests) there is no deadline.
pub async fn within<F, Fut>(req: Request, handle: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    let deadline = req.lambda_context_ref().map(|context| context.deadline());
    let Some(budget) = deadline.map(budget_until) else { return handle(req).await };
    match tokio::time::timeout(budget, handle(req)).await {
        Ok(res) => res,
        Err(_) => {
            tracing::error!(budget_ms = budget.as_millis() as u64, "request cut off before the invocation's deadline");
            error_response(&out_of_time())
        }
    }
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

    fn invocation(deadline_in: Duration) -> Request {
        let deadline = SystemTime::now() + deadline_in;
        let mut context = Context::default();
        context.deadline = deadline.duration_since(SystemTime::UNIX_EPOCH).expect("after 1970").as_millis() as u64;
        http::Request::builder().uri("/oauth/token").body(Body::Empty).expect("request").with_lambda_context(context)
    }

    #[tokio::test]
    async fn a_request_that_outlasts_the_deadline_is_503_with_retry_after() {
        let res = within(invocation(MARGIN + Duration::from_millis(50)), |_| async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            crate::http::json_response(200, &serde_json::json!({}))
        })
        .await;
        assert_eq!(res.status(), 503);
        assert_eq!(res.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
        let body: serde_json::Value = serde_json::from_slice(res.body().as_ref()).expect("json");
        assert_eq!(body["error"], "temporarily_unavailable");
    }

    #[tokio::test]
    async fn a_request_within_the_deadline_gets_its_own_answer() {
        let res = within(invocation(Duration::from_secs(5)), |_| async {
            crate::http::json_response(200, &serde_json::json!({}))
        })
        .await;
        assert_eq!(res.status(), 200);
    }

    #[tokio::test]
    async fn without_an_invocation_there_is_no_deadline() {
        let req = http::Request::builder().uri("/").body(Body::Empty).expect("request");
        let res = within(req, |_| async { crate::http::json_response(204, &serde_json::json!({})) }).await;
        assert_eq!(res.status(), 204);
    }

    #[test]
    fn a_past_deadline_leaves_no_budget() {
        assert_eq!(budget_until(SystemTime::now() - Duration::from_secs(1)), Duration::ZERO);
        assert!(budget_until(SystemTime::now() + Duration::from_secs(5)) <= Duration::from_secs(5) - MARGIN);
    }
}

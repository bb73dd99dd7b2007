//! What every function's `main` does around its handler, in one place: logging, the [`App`]
//! built once per container, a failed start reported to the Runtime API, and each invocation
//! bounded by its deadline and measured.

use std::future::Future;
use std::time::{Duration, Instant};

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use lambda_http::lambda_runtime::LambdaEvent;
use lambda_http::{Error, Request, RequestExt as _, run, service_fn};

use crate::App;
use crate::http::Response;
use crate::metrics::{self, Metric};

/// What a function prepares during init, before its first request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Warm {
    /// Nothing (a function with no AWS access).
    Nothing,
    /// The signing-key registry, for a function that signs or verifies tokens: read once now,
    /// and with it DynamoDB's connection opened. Lambda runs init at full CPU, where an
    /// invocation of a 128 MB function gets a fraction of a core for the same TLS handshake.
    KeyRegistry,
    /// The registry and, for a function that signs, the active key unwrapped if it is an
    /// envelope key: its one KMS `Decrypt` during init instead of in the first request.
    SigningKey,
}

/// Serves `handle` as the function `name` (its package name: the `Function` of its metrics)
/// until the Runtime API stops, after the `warm` work. A container that cannot start
/// (configuration missing, say) tells the Runtime API why at `/runtime/init/error`, as Lambda
/// expects of a custom runtime, and exits.
pub async fn serve<F, Fut>(name: &'static str, warm: Warm, handle: F) -> Result<(), Error>
where
    F: Fn(&'static App, Request) -> Fut + Copy + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send,
{
    crate::logging::init_logging();
    metrics::enable(name);
    let app = start(warm).await?;
    run(service_fn(move |req: Request| async move { Ok::<_, Error>(invoke(app, req, handle).await) })).await
}

/// Serves `handle` for an SQS event source mapping (with `ReportBatchItemFailures`): like
/// [`serve`], for a function fed by a queue instead of API Gateway.
pub async fn serve_queue<F, Fut>(name: &'static str, warm: Warm, handle: F) -> Result<(), Error>
where
    F: Fn(&'static App, SqsEvent) -> Fut + Copy + Send + Sync + 'static,
    Fut: Future<Output = SqsBatchResponse> + Send,
{
    crate::logging::init_logging();
    metrics::enable(name);
    let app = start(warm).await?;
    lambda_http::lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        metrics::REQUEST_ID
            .scope(event.context.request_id.clone(), async {
                let started = Instant::now();
                let answer = handle(app, event.payload).await;
                metrics::record(Metric::Latency, millis(started.elapsed()), &[]);
                Ok::<_, Error>(answer)
            })
            .await
    }))
    .await
}

/// The app, or the start failure reported.
async fn start(warm: Warm) -> Result<&'static App, Error> {
    let app: &'static App = match App::from_env().await {
        Ok(app) => Box::leak(Box::new(app)),
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "the function cannot start");
            report_init_error(&e).await;
            return Err(e.into());
        }
    };
    warm_up(app, warm).await;
    Ok(app)
}

/// Best effort: a failure here is the first request's to meet and answer (503), not init's.
async fn warm_up(app: &App, warm: Warm) {
    let now = crate::clock::unix_now();
    if warm == Warm::KeyRegistry
        && let Err(e) = app.keys.published(now).await
    {
        tracing::warn!(error = %e, "could not read the signing-key registry during init");
    }
    if warm == Warm::SigningKey {
        let prepared = match app.keys.active(now).await {
            Ok(key) => app.signer.prepare(&key).await,
            Err(e) => Err(e),
        };
        if let Err(e) = prepared {
            tracing::warn!(error = %e, "could not prepare the signing key during init");
        }
    }
}

/// One invocation: `handle` within the deadline, its time recorded.
async fn invoke<F, Fut>(app: &'static App, req: Request, handle: F) -> Response
where
    F: Fn(&'static App, Request) -> Fut,
    Fut: Future<Output = Response>,
{
    let request_id = req.lambda_context_ref().map(|c| c.request_id.clone()).unwrap_or_default();
    metrics::REQUEST_ID
        .scope(request_id, async {
            let started = Instant::now();
            let res = crate::deadline::within(app.config.deadline_fallback, req, |req| handle(app, req)).await;
            metrics::record(Metric::Latency, millis(started.elapsed()), &[]);
            res
        })
        .await
}

fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0
}

/// Posts the start failure to the Runtime API (2018-06-01 protocol). Best effort: Lambda also
/// notices the exit.
async fn report_init_error(e: &anyhow::Error) {
    let Ok(api) = std::env::var("AWS_LAMBDA_RUNTIME_API") else { return };
    let body = serde_json::json!({ "errorType": "Runtime.InitError", "errorMessage": format!("{e:#}") });
    let sent = reqwest::Client::new()
        .post(format!("http://{api}/2018-06-01/runtime/init/error"))
        .header("Lambda-Runtime-Function-Error-Type", "Runtime.InitError")
        .header("content-type", "application/json")
        .body(body.to_string())
        .timeout(Duration::from_secs(2))
        .send()
        .await;
    if let Err(e) = sent {
        tracing::warn!(error = %e, "could not report the start failure to the Runtime API");
    }
}

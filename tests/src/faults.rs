//! A fault-injecting HTTP proxy in front of moto, for the AWS error paths moto cannot produce
//! (DESIGN.md: transaction conflicts, throttling, disabled keys, broken answers).
//!
//! The proxy listens on `127.0.0.1:0` and forwards every request unchanged (method, path,
//! headers, body) to moto (`AWS_ENDPOINT_URL`), answering with moto's answer, except for
//! requests whose `X-Amz-Target` (e.g. `DynamoDB_20120810.TransactWriteItems`,
//! `TrentService.Sign`, `AmazonSQS.SendMessageBatch`) matches a scripted rule: those get the rule's [`Fault`]. Faults are
//! shaped the way the real services answer (awsJson 1.0 for DynamoDB, awsJson 1.1 for KMS: a
//! `__type`, a message, `x-amzn-RequestId`). Every request is counted and kept per target, so a
//! test can tell "retried twice" from "no second write".
//!
//! One DynamoDB behaviour moto lacks is emulated: a `TransactWriteItems` repeated with the
//! `ClientRequestToken` of one that succeeded is answered with that success and not applied
//! again (DynamoDB's idempotency window; the SDK fills the token in and keeps it across its
//! retries). Without it, a retry after a lost answer would look like a lost race here while it
//! succeeds on AWS.
//!
//! [`FaultProxy::app`] builds an [`App`] of a test's deployment whose DynamoDB and KMS clients
//! go through the proxy, with the production SDK configuration (retries and timeouts included).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::response::Response;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use serde_json::{Value, json};
use wxauth::App;
use wxauth::app::AwsClients;
use wxauth::config::AwsTimeouts;
use wxauth::secret::random_id;

use crate::{Server, TestEnv};

/// `X-Amz-Target` values of the calls the server makes.
pub mod target {
    pub const GET_ITEM: &str = "DynamoDB_20120810.GetItem";
    pub const QUERY: &str = "DynamoDB_20120810.Query";
    pub const PUT_ITEM: &str = "DynamoDB_20120810.PutItem";
    pub const UPDATE_ITEM: &str = "DynamoDB_20120810.UpdateItem";
    pub const TRANSACT_WRITE_ITEMS: &str = "DynamoDB_20120810.TransactWriteItems";
    pub const SIGN: &str = "TrentService.Sign";
    pub const DECRYPT: &str = "TrentService.Decrypt";
    pub const SEND_MESSAGE_BATCH: &str = "AmazonSQS.SendMessageBatch";
}

/// What the proxy does with a matching request.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Answer this; moto never sees the request.
    Respond { status: u16, headers: Vec<(&'static str, String)>, body: Vec<u8> },
    /// Wait, then forward (a slow or stalled service).
    Delay(Duration),
    /// Forward (moto applies the request), then answer this instead of moto's answer: the
    /// write happened but its answer was lost on the way back.
    AnswerLost(Box<Fault>),
}

const DYNAMODB_JSON: &str = "application/x-amz-json-1.0";
const KMS_JSON: &str = "application/x-amz-json-1.1";

impl Fault {
    fn aws_json(status: u16, content_type: &str, body: Value) -> Self {
        Fault::Respond {
            status,
            headers: vec![("content-type", content_type.to_string()), ("x-amzn-requestid", random_id().to_uppercase())],
            body: body.to_string().into_bytes(),
        }
    }

    /// A DynamoDB error; `error_type` as DynamoDB names it, namespace included (e.g.
    /// `com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException`,
    /// `com.amazon.coral.availability#ThrottlingException`).
    pub fn dynamodb(status: u16, error_type: &str, message: &str) -> Self {
        Self::aws_json(status, DYNAMODB_JSON, json!({"__type": error_type, "message": message}))
    }

    /// DynamoDB's `ProvisionedThroughputExceededException` (400; the SDK retries it).
    pub fn provisioned_throughput_exceeded() -> Self {
        Self::dynamodb(
            400,
            "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
            "The level of configured provisioned throughput for the table was exceeded. Consider increasing your \
             provisioning level with the UpdateTable API.",
        )
    }

    /// DynamoDB's `ThrottlingException` (400; the SDK retries it).
    pub fn dynamodb_throttling() -> Self {
        Self::dynamodb(
            400,
            "com.amazon.coral.availability#ThrottlingException",
            "Rate of requests exceeds the allowed throughput.",
        )
    }

    /// DynamoDB's `InternalServerError` (500; the SDK retries it).
    pub fn dynamodb_internal_error() -> Self {
        Self::dynamodb(500, "com.amazonaws.dynamodb.v20120810#InternalServerError", "Internal server error")
    }

    /// A cancelled `TransactWriteItems`, one reason per item of the transaction, in order
    /// (`None` for an item that was not the cause). DynamoDB capitalizes `Message` here.
    pub fn transaction_cancelled(reasons: &[&str]) -> Self {
        let reason = |code: &str| match code {
            "None" => json!({"Code": "None"}),
            "TransactionConflict" => json!({"Code": code, "Message": "Transaction is ongoing for the item"}),
            "ConditionalCheckFailed" => json!({"Code": code, "Message": "The conditional request failed"}),
            "ThrottlingError" => json!({"Code": code, "Message": "Throughput exceeds the current capacity of your \
                 table or index. DynamoDB is automatically scaling your table or index so please try again shortly."}),
            other => json!({"Code": other, "Message": "The transaction was cancelled"}),
        };
        Self::aws_json(
            400,
            DYNAMODB_JSON,
            json!({
                "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
                "Message": format!(
                    "Transaction cancelled, please refer cancellation reasons for specific reasons [{}]",
                    reasons.join(", ")
                ),
                "CancellationReasons": reasons.iter().map(|c| reason(c)).collect::<Vec<_>>(),
            }),
        )
    }

    /// A KMS error (awsJson 1.1: the bare code as `__type`).
    pub fn kms(status: u16, code: &str, message: &str) -> Self {
        Self::aws_json(status, KMS_JSON, json!({"__type": code, "message": message}))
    }

    /// KMS's `ThrottlingException` (400; the SDK retries it).
    pub fn kms_throttling() -> Self {
        Self::kms(
            400,
            "ThrottlingException",
            "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.",
        )
    }

    /// KMS's answer for a disabled key; the message names the key's ARN, as KMS's does.
    pub fn kms_disabled(key_arn: &str) -> Self {
        Self::kms(400, "DisabledException", &format!("{key_arn} is disabled."))
    }

    /// KMS's answer for a key pending deletion (or pending import).
    pub fn kms_invalid_state(key_arn: &str) -> Self {
        Self::kms(400, "KMSInvalidStateException", &format!("{key_arn} is pending deletion."))
    }

    /// SQS throttling (awsJson 1.0, as the SDK speaks to SQS): the SDK retries it.
    pub fn sqs_throttling() -> Self {
        Self::aws_json(
            400,
            DYNAMODB_JSON,
            json!({"__type": "com.amazonaws.sqs#RequestThrottled", "message": "Request is throttled."}),
        )
    }

    /// An HTML error page, as a load balancer in front of a service answers.
    pub fn html(status: u16) -> Self {
        let reason = StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("Error");
        Fault::Respond {
            status,
            headers: vec![("content-type", "text/html".into())],
            body: format!("<html><head><title>{status} {reason}</title></head><body><h1>{reason}</h1></body></html>")
                .into_bytes(),
        }
    }

    /// Any status with any body (a truncated or garbled answer).
    pub fn garbage(status: u16, content_type: &str, body: &[u8]) -> Self {
        Fault::Respond { status, headers: vec![("content-type", content_type.to_string())], body: body.to_vec() }
    }

    /// This fault, after moto has applied the request.
    pub fn after_forwarding(self) -> Self {
        Fault::AnswerLost(Box::new(self))
    }
}

struct Rule {
    target: String,
    /// Only requests whose body contains this (e.g. a key prefix such as `AUTHZ#`).
    body_contains: Option<String>,
    /// How many more matches it applies to; `None`: every one.
    remaining: Option<usize>,
    fault: Fault,
}

struct Shared {
    upstream: String,
    http: reqwest::Client,
    rules: Mutex<Vec<Rule>>,
    /// Request bodies per `X-Amz-Target`, in arrival order, faulted ones included.
    seen: Mutex<HashMap<String, Vec<Bytes>>>,
    /// moto's answers to successful transactions, by `ClientRequestToken`.
    transactions: Mutex<HashMap<String, Answer>>,
    /// Whether a repeated `ClientRequestToken` gets the earlier answer (see the module docs).
    idempotent_transactions: AtomicBool,
}

/// An answer as it came from moto.
#[derive(Clone)]
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Answer {
    fn into_response(self) -> Response {
        let mut res = Response::new(Body::from(self.body));
        *res.status_mut() = self.status;
        for (name, value) in self.headers.iter().filter(|(name, _)| !hop_by_hop(name)) {
            res.headers_mut().append(name.clone(), value.clone());
        }
        res
    }
}

impl Shared {
    /// Records the request and takes the first rule matching `target`, if any.
    fn arrive(&self, target: &str, body: &Bytes) -> Option<Fault> {
        self.seen.lock().expect("lock").entry(target.to_string()).or_default().push(body.clone());
        let mut rules = self.rules.lock().expect("lock");
        let matches = |r: &Rule| {
            r.target == target
                && r.remaining != Some(0)
                && r.body_contains
                    .as_ref()
                    .is_none_or(|needle| body.windows(needle.len()).any(|w| w == needle.as_bytes()))
        };
        let rule = rules.iter_mut().find(|r| matches(r))?;
        if let Some(n) = &mut rule.remaining {
            *n -= 1;
        }
        Some(rule.fault.clone())
    }
}

/// The proxy; it stops when dropped.
pub struct FaultProxy {
    url: String,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FaultProxy {
    /// A proxy to moto (`AWS_ENDPOINT_URL`) with no rules yet: it forwards everything.
    pub async fn start() -> Self {
        let upstream = std::env::var("AWS_ENDPOINT_URL")
            .expect("AWS_ENDPOINT_URL is not set: run the integration tests through scripts/test");
        let http = reqwest::Client::builder().no_proxy().build().expect("HTTP client");
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_string(),
            http,
            rules: Mutex::default(),
            seen: Mutex::default(),
            transactions: Mutex::default(),
            idempotent_transactions: AtomicBool::new(true),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the fault proxy");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let router = axum::Router::new().fallback(proxy).with_state(shared.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, router).await.expect("fault proxy");
        });
        Self { url, shared, server }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// From now on a repeated `TransactWriteItems` is applied again, as DynamoDB does once its
    /// idempotency window (10 minutes) is over: moto then checks its conditions afresh.
    pub fn without_transaction_idempotency(&self) -> &Self {
        self.shared.idempotent_transactions.store(false, Ordering::SeqCst);
        self
    }

    /// Every request to `target` gets `fault`.
    pub fn always(&self, target: &str, fault: Fault) -> &Self {
        self.rule(target, None, fault)
    }

    /// The next `n` requests to `target` get `fault`; later ones go through (rules added
    /// earlier for the same target come first).
    pub fn first(&self, n: usize, target: &str, fault: Fault) -> &Self {
        self.rule(target, Some(n), fault)
    }

    /// The next `n` requests to `target` whose body contains `needle` get `fault`.
    pub fn first_containing(&self, n: usize, target: &str, needle: &str, fault: Fault) -> &Self {
        let rule =
            Rule { target: target.to_string(), body_contains: Some(needle.to_string()), remaining: Some(n), fault };
        self.shared.rules.lock().expect("lock").push(rule);
        self
    }

    fn rule(&self, target: &str, remaining: Option<usize>, fault: Fault) -> &Self {
        let rule = Rule { target: target.to_string(), body_contains: None, remaining, fault };
        self.shared.rules.lock().expect("lock").push(rule);
        self
    }

    /// Removes every rule: from now on everything goes through.
    pub fn heal(&self) {
        self.shared.rules.lock().expect("lock").clear();
    }

    /// How many requests to `target` arrived, faulted or not (the SDK's retries included).
    pub fn calls(&self, target: &str) -> usize {
        self.shared.seen.lock().expect("lock").get(target).map_or(0, Vec::len)
    }

    /// Every `X-Amz-Target` the proxy saw (`""` for a request without one), sorted.
    pub fn targets(&self) -> Vec<String> {
        let mut targets: Vec<String> = self.shared.seen.lock().expect("lock").keys().cloned().collect();
        targets.sort();
        targets
    }

    /// The JSON bodies of the requests to `target`, in arrival order.
    pub fn requests(&self, target: &str) -> Vec<Value> {
        let seen = self.shared.seen.lock().expect("lock");
        seen.get(target)
            .map(|bodies| bodies.iter().map(|b| serde_json::from_slice(b).unwrap_or(Value::Null)).collect())
            .unwrap_or_default()
    }

    /// `env`'s deployment (its table, keys, configuration) with DynamoDB and KMS reached
    /// through this proxy. The SDK configuration is production's; only the retry partition is
    /// the app's own, so that other tests' failures cannot use up the retry quota that this
    /// app's retries draw from (the SDK shares one per service and process).
    pub async fn app(&self, env: &TestEnv) -> App {
        self.app_with_timeouts(env, env.app.config.aws_timeouts).await
    }

    /// [`Self::app`] behind the route table, to send requests to.
    pub async fn server(&self, env: &TestEnv) -> Server {
        Server::new(self.app(env).await)
    }

    /// [`Self::app`] with `adjust` applied to its configuration.
    pub async fn app_with_config(&self, env: &TestEnv, adjust: impl FnOnce(&mut wxauth::config::Config)) -> App {
        let mut config = env.app.config.clone();
        adjust(&mut config);
        let clients = self.clients(config.aws_timeouts).await;
        App::from_clients(config, clients).expect("app")
    }

    /// [`Self::app`] with other AWS timeouts (production's, to see them cut a stall off).
    pub async fn app_with_timeouts(&self, env: &TestEnv, timeouts: AwsTimeouts) -> App {
        let clients = self.clients(timeouts).await;
        App::from_clients(env.app.config.clone(), clients).expect("app")
    }

    /// DynamoDB, KMS and SQS clients that reach moto through this proxy.
    async fn clients(&self, timeouts: AwsTimeouts) -> AwsClients {
        use aws_sdk_dynamodb::config::retry::RetryPartition;
        let sdk = wxauth::aws::sdk_config(timeouts).await;
        let partition = format!("fault-proxy-{}", random_id());
        let dynamodb = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&sdk)
                .endpoint_url(&self.url)
                .retry_partition(RetryPartition::new(format!("{partition}-dynamodb")))
                .build(),
        );
        let kms = aws_sdk_kms::Client::from_conf(
            aws_sdk_kms::config::Builder::from(&sdk)
                .endpoint_url(&self.url)
                .retry_partition(RetryPartition::new(format!("{partition}-kms")))
                .build(),
        );
        let sqs = aws_sdk_sqs::Client::from_conf(
            aws_sdk_sqs::config::Builder::from(&sdk)
                .endpoint_url(&self.url)
                .retry_partition(RetryPartition::new(format!("{partition}-sqs")))
                .build(),
        );
        AwsClients { dynamodb, kms, sqs }
    }
}

/// Headers that belong to one connection, not to the message.
fn hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection" | "keep-alive" | "transfer-encoding" | "te" | "trailer" | "upgrade" | "content-length"
    )
}

async fn proxy(State(shared): State<Arc<Shared>>, req: axum::extract::Request) -> Response {
    let (parts, body) = req.into_parts();
    let Ok(body) = axum::body::to_bytes(body, usize::MAX).await else {
        return respond(400, &[], b"unreadable request body".to_vec());
    };
    let target = parts.headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    match shared.arrive(&target, &body) {
        None => forward(&shared, &target, &parts, body).await,
        Some(Fault::Respond { status, headers, body }) => respond(status, &headers, body),
        Some(Fault::Delay(delay)) => {
            tokio::time::sleep(delay).await;
            forward(&shared, &target, &parts, body).await
        }
        Some(Fault::AnswerLost(fault)) => {
            let _applied = forward(&shared, &target, &parts, body).await;
            match *fault {
                Fault::Respond { status, headers, body } => respond(status, &headers, body),
                other => panic!("an answer can only be replaced by an answer, not {other:?}"),
            }
        }
    }
}

/// Forwards to moto, with DynamoDB's transaction idempotency (see the module docs).
async fn forward(shared: &Shared, target: &str, parts: &http::request::Parts, body: Bytes) -> Response {
    let token = (target == target::TRANSACT_WRITE_ITEMS && shared.idempotent_transactions.load(Ordering::SeqCst))
        .then(|| serde_json::from_slice::<Value>(&body).ok()?["ClientRequestToken"].as_str().map(str::to_string))
        .flatten();
    if let Some(done) = token.as_ref().and_then(|t| shared.transactions.lock().expect("lock").get(t).cloned()) {
        return done.into_response();
    }
    let answer = match send(shared, parts, body).await {
        Ok(answer) => answer,
        Err(e) => return respond(502, &[("content-type", "text/plain".into())], format!("moto: {e}").into_bytes()),
    };
    if let Some(token) = token.filter(|_| answer.status == StatusCode::OK) {
        shared.transactions.lock().expect("lock").insert(token, answer.clone());
    }
    answer.into_response()
}

async fn send(shared: &Shared, parts: &http::request::Parts, body: Bytes) -> reqwest::Result<Answer> {
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut headers = HeaderMap::new();
    for (name, value) in parts.headers.iter().filter(|(name, _)| !hop_by_hop(name)) {
        headers.append(name.clone(), value.clone());
    }
    let url = format!("{}{path}", shared.upstream);
    let answer = shared.http.request(parts.method.clone(), url).headers(headers).body(body).send().await?;
    let (status, headers) = (answer.status(), answer.headers().clone());
    Ok(Answer { status, headers, body: answer.bytes().await? })
}

fn respond(status: u16, headers: &[(&'static str, String)], body: Vec<u8>) -> Response {
    let mut res = Response::new(Body::from(body));
    *res.status_mut() = StatusCode::from_u16(status).expect("status");
    for (name, value) in headers {
        res.headers_mut().append(*name, HeaderValue::from_str(value).expect("header value"));
    }
    res
}

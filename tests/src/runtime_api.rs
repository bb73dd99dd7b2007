//! The Lambda Runtime API (the 2018-06-01 protocol a custom runtime polls), served by the tests,
//! and the built `bootstrap`s started against it the way Lambda starts them.
//!
//! [`RuntimeApi`] hands out one queued event per `GET /runtime/invocation/next`, with the headers
//! Lambda sends (`Lambda-Runtime-Aws-Request-Id`, an absolute `Lambda-Runtime-Deadline-Ms`,
//! `Lambda-Runtime-Invoked-Function-Arn`, `Lambda-Runtime-Trace-Id`), and takes the function's
//! answer at `…/invocation/{id}/response` or `…/invocation/{id}/error`, and a failed start at
//! `…/init/error`. [`Bootstrap`] runs a function's binary with `AWS_LAMBDA_RUNTIME_API` and the
//! environment template.yaml gives it, keeps its output, and reads its peak memory.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::{HeaderMap, StatusCode};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::{mpsc, oneshot};

use crate::PATIENCE;

/// How an invocation ended.
#[derive(Debug)]
pub enum Outcome {
    /// `POST …/response`: the function's answer (an API Gateway payload 2.0 response).
    Response(Value),
    /// `POST …/error`: its error document and `Lambda-Runtime-Function-Error-Type`.
    Error { error_type: Option<String>, body: Value },
}

impl Outcome {
    /// The API Gateway response: status, headers and body as the client would see them.
    pub fn http(&self) -> HttpAnswer {
        let Outcome::Response(res) = self else { panic!("the invocation failed: {self:?}") };
        let status = res["statusCode"].as_u64().unwrap_or_else(|| panic!("no statusCode in {res}")) as u16;
        let headers: HashMap<String, String> = res["headers"]
            .as_object()
            .map(|h| h.iter().map(|(k, v)| (k.to_lowercase(), v.as_str().unwrap_or_default().to_string())).collect())
            .unwrap_or_default();
        let text = res["body"].as_str().unwrap_or_default();
        let body = if res["isBase64Encoded"].as_bool() == Some(true) {
            use base64::Engine as _;
            let bytes = base64::engine::general_purpose::STANDARD.decode(text).expect("base64 body");
            String::from_utf8(bytes).expect("utf-8 body")
        } else {
            text.to_string()
        };
        let json = serde_json::from_str(&body).unwrap_or(Value::Null);
        let cookies = res["cookies"]
            .as_array()
            .map(|c| c.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        HttpAnswer { status, headers, body, json, cookies }
    }
}

/// A function's API Gateway answer.
#[derive(Debug)]
pub struct HttpAnswer {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: String,
    pub json: Value,
    pub cookies: Vec<String>,
}

impl HttpAnswer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

/// What `Lambda-Runtime-Deadline-Ms` says.
#[derive(Debug, Clone)]
pub enum Deadline {
    /// Lambda's: the absolute time `timeout` after the invocation is handed out.
    After(Duration),
    /// Anything else, sent as it is (`cargo lambda watch` sends "600000", others "0").
    Raw(String),
}

struct Invocation {
    event: Value,
    deadline: Deadline,
    answer: oneshot::Sender<Answered>,
}

/// An outcome, and the time from handing the event out to the answer.
type Answered = (Outcome, Duration);

#[derive(Default)]
struct Shared {
    /// Handed out, not yet answered, by request id.
    in_flight: Mutex<HashMap<String, (oneshot::Sender<Answered>, Instant)>>,
    first_poll: Mutex<Option<Instant>>,
    init_error: Mutex<Option<(Option<String>, Value)>>,
}

struct Server {
    shared: Arc<Shared>,
    queue: tokio::sync::Mutex<mpsc::UnboundedReceiver<Invocation>>,
}

/// A Runtime API for one function instance.
pub struct RuntimeApi {
    address: String,
    shared: Arc<Shared>,
    queue: mpsc::UnboundedSender<Invocation>,
}

impl RuntimeApi {
    pub async fn start() -> Self {
        let (queue, receiver) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared::default());
        let server = Arc::new(Server { shared: shared.clone(), queue: tokio::sync::Mutex::new(receiver) });
        let router = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(server);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the Runtime API");
        let address = listener.local_addr().expect("address").to_string();
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self { address, shared, queue }
    }

    /// `AWS_LAMBDA_RUNTIME_API`: host and port.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Invokes the function with `event` and Lambda's deadline `timeout` ahead; waits for its
    /// answer.
    pub async fn invoke(&self, event: Value, timeout: Duration) -> Outcome {
        self.invoke_with(event, Deadline::After(timeout)).await
    }

    pub async fn invoke_with(&self, event: Value, deadline: Deadline) -> Outcome {
        self.invoke_timed(event, deadline).await.0
    }

    /// Also returns how long the function took: from the event handed out to its answer.
    pub async fn invoke_timed(&self, event: Value, deadline: Deadline) -> Answered {
        let (answer, outcome) = oneshot::channel();
        self.queue.send(Invocation { event, deadline, answer }).expect("the Runtime API is running");
        tokio::time::timeout(PATIENCE, outcome)
            .await
            .expect("the function answered within the tests' patience")
            .expect("the invocation was answered")
    }

    /// When the function first asked for an invocation: the end of its init.
    pub fn first_poll(&self) -> Option<Instant> {
        *self.shared.first_poll.lock().expect("lock")
    }

    /// What the function posted to `/init/error`, if anything: its error type and document.
    pub fn init_error(&self) -> Option<(Option<String>, Value)> {
        self.shared.init_error.lock().expect("lock").clone()
    }
}

async fn next(State(server): State<Arc<Server>>) -> Response {
    server.shared.first_poll.lock().expect("lock").get_or_insert_with(Instant::now);
    let Some(invocation) = server.queue.lock().await.recv().await else {
        return StatusCode::GONE.into_response();
    };
    let request_id = uuid_like();
    let deadline = match invocation.deadline {
        Deadline::After(timeout) => {
            let at = SystemTime::now() + timeout;
            at.duration_since(SystemTime::UNIX_EPOCH).expect("after 1970").as_millis().to_string()
        }
        Deadline::Raw(value) => value,
    };
    server.shared.in_flight.lock().expect("lock").insert(request_id.clone(), (invocation.answer, Instant::now()));
    let headers = [
        ("lambda-runtime-aws-request-id", request_id),
        ("lambda-runtime-deadline-ms", deadline),
        ("lambda-runtime-invoked-function-arn", "arn:aws:lambda:us-east-1:123456789012:function:wxauth-test".into()),
        (
            "lambda-runtime-trace-id",
            "Root=1-69257718-55654a6b3768586b49414d45;Parent=53995c3f42cd8ad8;Sampled=0".into(),
        ),
        ("content-type", "application/json".into()),
    ];
    let mut res = invocation.event.to_string().into_response();
    for (name, value) in headers {
        res.headers_mut().insert(name, value.parse().expect("header value"));
    }
    res
}

async fn response(State(server): State<Arc<Server>>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    let body = serde_json::from_slice(&body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into()));
    settle(&server, &id, Outcome::Response(body))
}

async fn error(
    State(server): State<Arc<Server>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let outcome =
        Outcome::Error { error_type: error_type(&headers), body: serde_json::from_slice(&body).unwrap_or(Value::Null) };
    settle(&server, &id, outcome)
}

async fn init_error(State(server): State<Arc<Server>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let document = serde_json::from_slice(&body).unwrap_or(Value::Null);
    *server.shared.init_error.lock().expect("lock") = Some((error_type(&headers), document));
    StatusCode::ACCEPTED
}

fn settle(server: &Server, id: &str, outcome: Outcome) -> StatusCode {
    match server.shared.in_flight.lock().expect("lock").remove(id) {
        Some((answer, handed_out)) => {
            let _ = answer.send((outcome, handed_out.elapsed()));
            StatusCode::ACCEPTED
        }
        // As Lambda: an answer for an invocation that is not in flight (answered twice, or made up).
        None => StatusCode::BAD_REQUEST,
    }
}

fn error_type(headers: &HeaderMap) -> Option<String> {
    headers.get("lambda-runtime-function-error-type").and_then(|v| v.to_str().ok()).map(str::to_string)
}

fn uuid_like() -> String {
    let id = wxauth::secret::random_id();
    format!("req-{}", &id[..20.min(id.len())])
}

/// A function binary running against a [`RuntimeApi`].
pub struct Bootstrap {
    child: tokio::process::Child,
    pub started: Instant,
    output: Arc<Mutex<Vec<String>>>,
}

impl Bootstrap {
    /// Starts `binary` as Lambda does: `AWS_LAMBDA_RUNTIME_API` and the other variables Lambda
    /// sets, then `env` (the function's own), and nothing inherited from the tests' environment.
    pub fn spawn(binary: &std::path::Path, api: &RuntimeApi, memory_mb: u64, env: &[(String, String)]) -> Self {
        let mut command = tokio::process::Command::new(binary);
        command
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", api.address())
            .env("AWS_LAMBDA_FUNCTION_NAME", "wxauth-test")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory_mb.to_string())
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/wxauth-test")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/12/01/[$LATEST]test")
            .env("LAMBDA_TASK_ROOT", binary.parent().expect("folder"))
            .env("_HANDLER", "bootstrap")
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let started = Instant::now();
        let mut child = command.spawn().unwrap_or_else(|e| panic!("{}: {e}", binary.display()));
        let output = Arc::new(Mutex::new(Vec::new()));
        collect_lines(child.stdout.take().expect("stdout"), output.clone());
        collect_lines(child.stderr.take().expect("stderr"), output.clone());
        Self { child, started, output }
    }

    /// Every line the function wrote so far, stdout and stderr.
    pub fn output(&self) -> Vec<String> {
        self.output.lock().expect("lock").clone()
    }

    /// Peak resident memory so far, in KiB (`VmHWM`).
    pub fn peak_rss_kib(&self) -> u64 {
        let pid = self.child.id().expect("running");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM")
    }

    /// Waits for the process to end by itself.
    pub async fn exit_status(&mut self) -> std::process::ExitStatus {
        tokio::time::timeout(PATIENCE, self.child.wait()).await.expect("the function exited").expect("wait")
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

fn collect_lines<R: AsyncRead + Unpin + Send + 'static>(stream: R, output: Arc<Mutex<Vec<String>>>) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            output.lock().expect("lock").push(line);
        }
    });
}

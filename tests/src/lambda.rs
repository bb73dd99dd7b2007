//! A test deployment whose functions are the shipped binaries: each function's release
//! `bootstrap` started against its own [`RuntimeApi`] with the environment and memory size
//! template.yaml gives it (and the local stack's endpoints), and API Gateway payload 2.0 events
//! to invoke it with. Used by tests/tests/lambda_runtime.rs and the cold-start benchmark.
//!
//! The binaries come from `WXAUTH_LAMBDA_DIR` (default `target/lambda`, cargo-lambda's; or
//! `.aws-sam/build`, `sam build`'s).

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};
use wxauth::domain::client::ClientKind;
use wxauth::scope::Scope;
use wxauth_provision::{LogoutQueues, NewClient};

use crate::runtime_api::{Bootstrap, HttpAnswer, RuntimeApi};
use crate::template::{self, Resolver};
use crate::{ISSUER, TestEnv};

/// `WXAUTH_LAMBDA_DIR`, a relative one taken from the workspace root.
pub fn lambda_dir() -> PathBuf {
    let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    std::env::var_os("WXAUTH_LAMBDA_DIR").map(|dir| root.join(dir)).unwrap_or_else(|| root.join("target/lambda"))
}

/// `binary`'s bootstrap: `<dir>/<binary>/bootstrap` as cargo-lambda lays them out, or
/// `<dir>/<LogicalId>/bootstrap` as `sam build` does (`WXAUTH_LAMBDA_DIR=.aws-sam/build`).
pub fn bootstrap_path(binary: &str) -> PathBuf {
    let dir = lambda_dir();
    let cargo_lambda = dir.join(binary).join("bootstrap");
    let sam = dir.join(template::function(binary).logical_id).join("bootstrap");
    [cargo_lambda.clone(), sam].into_iter().find(|p| p.exists()).unwrap_or_else(|| {
        panic!(
            "{} is missing: build the functions with `cargo lambda build --release` (scripts/test does)",
            cargo_lambda.display()
        )
    })
}

/// A test's deployment, with the demo clients the events name.
pub struct Deployment {
    pub env: TestEnv,
    /// demo-miniprogram's WeChat appid (a fresh one: the mock's codes are single use per appid).
    pub appid: String,
    pub service_secret: String,
    /// The back-channel logout queue of the deployment.
    pub logout_queues: LogoutQueues,
}

pub const SERVICE_SCOPE: &str = "reports:read";

impl Deployment {
    pub async fn new() -> Self {
        let env = TestEnv::new().await;
        let mp = env.miniprogram().await;
        env.create_client(NewClient {
            id: "demo-miniprogram".into(),
            name: "Demo mini program".into(),
            kind: ClientKind::MiniProgram,
            grant_types: vec![],
            redirect_uris: vec![],
            post_logout_redirect_uris: vec![],
            backchannel_logout: None,
            scope: Scope::parse("openid profile phone").expect("scope"),
            audience: None,
            wechat: Some((mp.appid.clone(), format!("secret-{}", mp.appid))),
        })
        .await;
        env.create_demo_web().await;
        env.create_demo_device().await;
        let service_secret = env
            .create_client(NewClient {
                id: "demo-service".into(),
                name: "Demo service".into(),
                kind: ClientKind::Confidential,
                grant_types: vec!["client_credentials".into()],
                redirect_uris: vec![],
                post_logout_redirect_uris: vec![],
                backchannel_logout: None,
                scope: Scope::parse(SERVICE_SCOPE).expect("scope"),
                audience: None,
                wechat: None,
            })
            .await
            .expect("a secret");
        env.password_user("demo", "demo-password").await;
        Self { env, appid: mp.appid, service_secret, logout_queues: crate::logout_queues().await }
    }

    /// The function's environment as template.yaml sets it, on this deployment, plus what
    /// Lambda and the local stack provide.
    pub fn environment(&self, function: &template::Function, aws_endpoint: &str) -> Vec<(String, String)> {
        let config = &self.env.app.config;
        let values = [
            ("Table", config.table.clone()),
            ("Issuer", ISSUER.to_string()),
            ("DataKey.Arn", config.kms_data_key_id.clone()),
            ("BackchannelLogoutQueue", self.logout_queues.url.clone()),
        ];
        let mut env = function.environment(&Resolver { values: &values });
        env.push(("AWS_LAMBDA_LOG_FORMAT".into(), "JSON".into()));
        env.push(("AWS_ENDPOINT_URL".into(), aws_endpoint.into()));
        env.push(("WECHAT_API_BASE".into(), self.env.mock_wechat.clone()));
        for passed in [
            "AWS_REGION",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_ATTEMPT_TIMEOUT_MS",
            "AWS_CALL_TIMEOUT_MS",
        ] {
            if let Ok(value) = std::env::var(passed) {
                env.push((passed.into(), value));
            }
        }
        env
    }

    /// Starts `binary` against moto, with `adjust` applied to its environment.
    pub async fn start(&self, binary: &str, adjust: impl FnOnce(&mut Vec<(String, String)>)) -> Instance {
        let moto = std::env::var("AWS_ENDPOINT_URL").expect("AWS_ENDPOINT_URL");
        self.start_against(binary, &moto, adjust).await
    }

    pub async fn start_against(
        &self,
        binary: &str,
        aws: &str,
        adjust: impl FnOnce(&mut Vec<(String, String)>),
    ) -> Instance {
        let function = template::function(binary);
        let mut env = self.environment(&function, aws);
        adjust(&mut env);
        let api = RuntimeApi::start().await;
        let process = Bootstrap::spawn(&bootstrap_path(binary), &api, function.memory_mb, &env);
        Instance { api, process, function }
    }

    pub fn basic(&self) -> String {
        use base64::Engine as _;
        let pair = format!("demo-service:{}", self.service_secret);
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair))
    }
}

/// One running function.
pub struct Instance {
    pub api: RuntimeApi,
    pub process: Bootstrap,
    pub function: template::Function,
}

impl Instance {
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.function.timeout_s)
    }

    pub async fn invoke(&self, event: Value) -> HttpAnswer {
        self.api.invoke(event, self.timeout()).await.http()
    }
}

/// An events/*.json file.
pub fn sample_event(name: &str) -> Value {
    let path = format!("{}/../events/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))).expect("json")
}

/// An API Gateway HTTP API (payload 2.0) event, shaped as the samples are.
pub fn event(method: &str, path_and_query: &str, headers: &[(&str, &str)], body: Option<&str>) -> Value {
    let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
    let mut event = sample_event("jwks.json");
    event["routeKey"] = json!(format!("{method} {path}"));
    event["rawPath"] = json!(path);
    event["rawQueryString"] = json!(query);
    event["requestContext"]["http"]["method"] = json!(method);
    event["requestContext"]["http"]["path"] = json!(path);
    event["requestContext"]["routeKey"] = json!(format!("{method} {path}"));
    let mut all: serde_json::Map<String, Value> = event["headers"].as_object().cloned().unwrap_or_default();
    let mut cookies = Vec::new();
    for (name, value) in headers {
        if name.eq_ignore_ascii_case("cookie") {
            cookies.push(json!(value));
        } else {
            all.insert(name.to_lowercase(), json!(value));
        }
    }
    event["headers"] = Value::Object(all);
    if !cookies.is_empty() {
        event["cookies"] = Value::Array(cookies);
    }
    if let Some(body) = body {
        event["body"] = json!(body);
        event["isBase64Encoded"] = json!(false);
    }
    event
}

pub fn form(params: &[(&str, &str)]) -> String {
    serde_urlencoded::to_string(params).expect("form")
}

pub const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");

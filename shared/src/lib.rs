//! # wxauth
//!
//! An OAuth 2.0 authorization server for WeChat mini programs, run as small AWS Lambda
//! functions. This crate is everything but the functions' `main`s.
//!
//! ## Layers
//! A request flows one way:
//!
//! 1. `functions/<name>`: parses the HTTP request with [`http`], authenticates the client with
//!    [`oauth::client_auth`], and answers with one response builder.
//! 2. [`oauth`]: the protocol rules. [`oauth::grants`] dispatches the token endpoint to one
//!    module per grant; errors are [`oauth::error::OAuthError`] (the client's) or
//!    [`oauth::error::Error`] (backend faults, answered 503/502, and the unexpected).
//! 3. The effects: [`tokens`] (JWT access tokens, rotating refresh tokens), [`keys`] (KMS
//!    signing, JWKs, the key registry), [`store`] (DynamoDB, one module per item kind) and
//!    [`wechat`] (the WeChat server API).
//!
//! Nothing below the handlers knows about HTTP; nothing above [`store`] knows about DynamoDB
//! attribute maps.
//!
//! ## The app
//! [`App`] is built once per cold start from [`config::Config`] and the AWS SDK configuration,
//! and shared by every request the container serves.

pub mod aws;
pub mod config;
pub mod deadline;
pub mod http;
pub mod keys;
pub mod lambda;
pub mod metrics;
pub mod oauth;
pub mod password;
pub mod store;
pub mod tokens;
pub mod wechat;

use config::Config;
use keys::data_key::DataKey;
use keys::registry::KeyRing;
use keys::signer::Signer;
use oauth::client_cache::ClientCache;
use store::Store;
use wechat::api::WechatClient;
use wechat::secrets::AppSecrets;
use wechat::server_token::ServerTokens;

/// Configuration plus every client and cache a request needs.
#[derive(Debug)]
pub struct App {
    pub config: Config,
    pub store: Store,
    pub keys: KeyRing,
    pub signer: Signer,
    pub data_key: DataKey,
    pub clients: ClientCache,
    pub wechat: WechatClient,
    pub app_secrets: AppSecrets,
    pub server_tokens: ServerTokens,
}

impl App {
    /// The app as a Lambda container builds it: environment variables and the SDK's defaults.
    pub async fn from_env() -> anyhow::Result<Self> {
        let config = Config::from_env()?;
        let sdk = aws::sdk_config(config.aws_timeouts).await;
        Self::new(config, &sdk)
    }

    pub fn new(config: Config, sdk: &aws_config::SdkConfig) -> anyhow::Result<Self> {
        Self::from_clients(config, aws_sdk_dynamodb::Client::new(sdk), aws_sdk_kms::Client::new(sdk))
    }

    /// With clients configured by the caller (tests point them at an outage, for instance).
    pub fn from_clients(
        config: Config,
        dynamodb: aws_sdk_dynamodb::Client,
        kms: aws_sdk_kms::Client,
    ) -> anyhow::Result<Self> {
        let store = Store::new(dynamodb, config.table.clone());
        Ok(Self {
            keys: KeyRing::new(store.clone(), config.key_cache_ttl),
            signer: Signer::new(kms.clone(), config.table.clone()),
            data_key: DataKey::with_bounds(kms, config.kms_data_key_id.clone(), config.data_key_bounds),
            clients: ClientCache::new(config.client_cache_ttl),
            wechat: WechatClient::new(config.wechat_api_base.clone(), config.wechat_timeout)?,
            app_secrets: AppSecrets::default(),
            server_tokens: ServerTokens::default(),
            store,
            config,
        })
    }
}

/// Seconds since the Unix epoch: the unit of every stored time and every JWT claim.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or_default()
}

/// Milliseconds since the Unix epoch (EMF timestamps).
pub fn unix_now_millis() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or_default()
}

/// Logging for a function's `main`: JSON or text as the function is configured
/// (`AWS_LAMBDA_LOG_FORMAT`), the level from `RUST_LOG` or `AWS_LAMBDA_LOG_LEVEL` (default
/// info). At a plain level such as `debug` or `trace`, the runtime and the HTTP and AWS stacks
/// stay at info: at trace they print whole events and requests, with their tokens and secrets.
pub fn init_logging() {
    let level = std::env::var("RUST_LOG")
        .or_else(|_| std::env::var("AWS_LAMBDA_LOG_LEVEL"))
        .unwrap_or_else(|_| "info".into())
        .to_lowercase();
    let filter = tracing_subscriber::EnvFilter::new(format!("{level},{QUIET_TARGETS}"));
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false).without_time();
    if json {
        builder.json().with_current_span(false).init();
    } else {
        builder.with_ansi(false).init();
    }
}

/// Targets capped at info whatever level is asked for (see [`init_logging`]).
pub const QUIET_TARGETS: &str = "lambda_runtime=info,lambda_http=info,hyper=info,hyper_util=info,h2=info,reqwest=info,rustls=info,aws_smithy_runtime=info,aws_smithy_runtime_api=info,aws_smithy_http=info,aws_sigv4=info,aws_config=info";

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

pub mod app;
pub mod aws;
pub mod clock;
pub mod config;
pub mod deadline;
pub mod domain;
pub mod error;
pub mod grant_type;
pub mod http;
pub mod keys;
pub mod lambda;
pub mod logging;
pub mod metrics;
pub mod oauth;
pub mod params;
pub mod password;
pub mod provision;
pub mod scope;
pub mod secret;
pub mod store;
pub mod tokens;
pub mod wechat;

pub use app::App;

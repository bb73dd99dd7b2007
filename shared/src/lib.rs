//! # wxauth
//!
//! An OAuth 2.0 authorization server for WeChat mini programs, run as small AWS Lambda
//! functions. This crate is everything but the functions' `main`s.
//!
//! ## Floors
//! From the ground up; an import never points up a floor (`scripts/floors` checks it):
//!
//! 1. Ground: [`config`], [`error`] ([`error::OAuthError`], the client's; [`error::Error`], backend
//!    faults answered 503/502 and the unexpected), [`scope`], [`grant_type`], [`params`],
//!    [`secret`], [`clock`], [`metrics`], [`aws`], [`password`].
//! 2. [`domain`]: what wxauth deals in, apart from storage and transport.
//! 3. The effects: [`store`] (DynamoDB, one module per item kind), [`keys`] (signing, JWKs, the
//!    key registry, the data key), [`wechat`] (the WeChat server API and its crypto) and
//!    [`queue`] (SQS: the back-channel logout queue).
//! 4. [`App`]: the effects composed, once per cold start.
//! 5. [`tokens`]: access, ID and refresh tokens, authorization codes.
//! 6. [`oauth`]: each endpoint's rules (grants, client authentication, the authorization
//!    request and the browser session, revocation, introspection, userinfo, the WeChat data
//!    routes).
//! 7. The glue: [`http`] (parsing and responses), [`pages`] (the HTML pages, in zh-CN and en),
//!    [`lambda`], [`deadline`], [`logging`].
//!
//! A request flows one way: `functions/<name>` parses it with [`http`], calls the rules in
//! [`oauth`] with parsed values, and answers with one response builder. Nothing below the
//! handlers knows about HTTP; nothing above [`store`] knows about DynamoDB attribute maps.
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
pub mod pages;
pub mod params;
pub mod password;
pub mod queue;
pub mod scope;
pub mod secret;
pub mod store;
pub mod tokens;
pub mod wechat;

pub use app::App;

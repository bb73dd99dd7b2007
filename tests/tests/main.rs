//! The integration tests, one module per area, linked into one binary. They talk to moto
//! (DynamoDB, KMS), the mock WeChat and the local server that `scripts/test` starts.

mod admin_cli;
mod bad_requests;
mod custody;
mod discovery;
mod events;
mod examples;
mod faults;
mod iam;
mod interop_oauth2;
mod interop_openidconnect;
mod lambda_runtime;
mod local_server;
mod logs;
mod oauth_flows;
mod openid;
mod outages;
mod properties;
mod refresh;
mod routes;
mod wechat_data;
mod wechat_login;

//! The things wxauth deals in, apart from how they are stored or carried: no DynamoDB, no HTTP,
//! no I/O. The store maps them to items ([`crate::store`], one module per item kind); the rules
//! decide with them.

pub mod access_claims;
pub mod authorization;
pub mod browser_session;
pub mod client;
pub mod consent;
pub mod deployment;
pub mod device_grant;
pub mod jwk;
pub mod lockout;
pub mod logout_notice;
pub mod refresh_token;
pub mod scan;
pub mod session_keys;
pub mod signing_key;
pub mod user;
pub mod user_agent;
pub mod username;
pub mod wechat_web;

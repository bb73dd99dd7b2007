//! WeChat: the server API client, the data crypto, and what the endpoints need around them
//! (the caller, app secrets and session keys at rest, the server access token).

pub mod api;
pub mod crypto;
pub mod errcode;
pub mod secrets;
pub mod server_token;
pub mod web;
pub mod wxacode;

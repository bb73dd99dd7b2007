//! WeChat: the server API client, and the secrets it needs (app secrets, session keys) at rest.

pub mod api;
pub mod secrets;

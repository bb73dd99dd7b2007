//! The rules: the OAuth 2.0 and OpenID Connect protocol (client authentication, the grants, the
//! authorization request, revocation, introspection, userinfo, sign-in) and the WeChat data
//! routes. Each endpoint's rules live here; its function only parses the request and answers.

pub mod authorization;
pub mod backchannel;
pub mod bearer;
pub mod browser_session;
pub mod client_auth;
pub mod device;
pub mod device_verification;
pub mod grants;
pub mod introspection;
pub mod logout;
pub mod pkce;
pub mod revocation;
pub mod scan;
pub mod server_token;
pub mod sign_in;
pub mod userinfo;
pub mod wechat_caller;
pub mod wechat_data;
pub mod wechat_replay;
pub mod wechat_web;

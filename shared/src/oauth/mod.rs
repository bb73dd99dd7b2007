//! The OAuth 2.0 protocol: errors, client authentication, scopes, sign-in, and the grants.

pub mod bearer;
pub mod client_auth;
pub mod client_cache;
pub mod error;
pub mod grants;
pub mod pkce;
pub mod scope;
pub mod sign_in;

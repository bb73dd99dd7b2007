//! The grant types (RFC 6749 §4, plus ours), named once: clients are registered for them, the
//! token endpoint dispatches on them, the metadata lists them. Each grant module in
//! [`crate::oauth::grants`] declares its own `GRANT_TYPE` from these.

pub const WECHAT_CODE: &str = "urn:wxauth:grant-type:wechat-code";
pub const AUTHORIZATION_CODE: &str = "authorization_code";
pub const REFRESH_TOKEN: &str = "refresh_token";
pub const CLIENT_CREDENTIALS: &str = "client_credentials";
pub const PASSWORD: &str = "password";
/// The device authorization grant (RFC 8628 §3.4): a TV or a CLI polls with its `device_code`
/// while the user approves at `/device`.
pub const DEVICE_CODE: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// Every token-endpoint grant this server knows, for the metadata document.
pub const ALL: &[&str] = &[WECHAT_CODE, AUTHORIZATION_CODE, REFRESH_TOKEN, CLIENT_CREDENTIALS, PASSWORD, DEVICE_CODE];

/// Not a token-endpoint grant, but registered per client like one: the authorization endpoint's
/// `response_type=token` (RFC 6749 §4.2), only for clients registered for it.
pub const IMPLICIT: &str = "implicit";

/// Whether a client may be registered for `name`.
pub fn is_known(name: &str) -> bool {
    ALL.contains(&name) || name == IMPLICIT
}

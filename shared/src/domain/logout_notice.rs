//! A relying party to tell that a browser session ended (Back-Channel Logout 1.0). Queued when
//! the session ends; delivered by the `backchannel-logout` function, which signs a fresh logout
//! token for every attempt, so the notice itself holds nothing secret.

/// "`sub`'s session `sid` ended": for the client `client_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutNotice {
    pub client_id: String,
    pub sub: String,
    pub sid: String,
}

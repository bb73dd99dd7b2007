//! A registered client: what it is, how it authenticates, and what it may ask for.

use crate::scope::Scope;

/// How a client authenticates, and what it may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKind {
    /// Holds a secret (a server).
    Confidential,
    /// Cannot keep a secret (a SPA, a native app): PKCE where codes are involved.
    Public,
    /// A WeChat mini program: public, and holds its WeChat appid and app secret server-side.
    MiniProgram,
}

impl ClientKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ClientKind::Confidential => "confidential",
            ClientKind::Public => "public",
            ClientKind::MiniProgram => "miniprogram",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "confidential" => Some(ClientKind::Confidential),
            "public" => Some(ClientKind::Public),
            "miniprogram" => Some(ClientKind::MiniProgram),
            _ => None,
        }
    }
}

/// A mini program's WeChat credentials.
#[derive(Debug, Clone, PartialEq)]
pub struct WechatApp {
    pub appid: String,
    /// The app secret, sealed by [`crate::keys::data_key`]: a `WXE1` envelope (AES-256-GCM under
    /// a data key from KMS) bound to the encryption context
    /// [`crate::wechat::secrets::app_secret_context`] (purpose `wechat-app-secret` and the appid).
    /// A direct KMS ciphertext, as older items may hold, still opens.
    pub encrypted_secret: Vec<u8>,
}

/// Where Back-Channel Logout 1.0 tells a client that a browser session it signed in through
/// ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackchannelLogout {
    /// The client's `backchannel_logout_uri`: logout tokens are POSTed here.
    pub uri: String,
    /// `backchannel_logout_session_required`: the client needs `sid` in logout tokens (every
    /// logout token of wxauth carries it).
    pub session_required: bool,
}

/// A registered client.
#[derive(Debug, Clone, PartialEq)]
pub struct Client {
    pub id: String,
    pub name: String,
    pub kind: ClientKind,
    /// [`crate::secret::hash`] of the secret, confidential clients only.
    pub secret_hash: Option<String>,
    pub grant_types: Vec<String>,
    pub redirect_uris: Vec<String>,
    /// Where RP-Initiated Logout may send the browser afterwards (exact match).
    pub post_logout_redirect_uris: Vec<String>,
    pub backchannel_logout: Option<BackchannelLogout>,
    /// The most this client may ask for.
    pub scope: Scope,
    /// `aud` of its access tokens; the deployment's audience when `None`.
    pub audience: Option<String>,
    pub wechat: Option<WechatApp>,
    pub created_at: i64,
}

impl Client {
    pub fn is_confidential(&self) -> bool {
        self.kind == ClientKind::Confidential
    }

    pub fn allows_grant(&self, grant_type: &str) -> bool {
        self.grant_types.iter().any(|g| g == grant_type)
    }
}

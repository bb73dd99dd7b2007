//! A browser's sign-in session (OpenID Connect Core §3.1.2.1): what lets a second authorization
//! request, from this or another client, go through without the sign-in page.

/// How the user proved who they are, as the ID token's `amr` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInMethod {
    /// A username and password (RFC 8176 `pwd`).
    Password,
    /// WeChat's web authorization or QR sign-in.
    Wechat,
    /// Confirmed in the mini program after scanning its code.
    MiniProgramScan,
}

impl SignInMethod {
    /// The `amr` value.
    pub fn amr(self) -> &'static str {
        match self {
            SignInMethod::Password => "pwd",
            SignInMethod::Wechat => "wechat",
            SignInMethod::MiniProgramScan => "mini_program_scan",
        }
    }

    pub fn from_amr(value: &str) -> Option<Self> {
        [SignInMethod::Password, SignInMethod::Wechat, SignInMethod::MiniProgramScan]
            .into_iter()
            .find(|method| method.amr() == value)
    }
}

/// One browser session. Its cookie's value is stored nowhere: the session is found by the
/// value's hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserSession {
    /// SHA-256 of the cookie's value.
    pub id_hash: String,
    /// The ID tokens' `sid`: random, unrelated to the cookie, the same for every client.
    pub sid: String,
    pub user_id: String,
    /// When the sign-in that started the session happened: every ID token's `auth_time`.
    pub auth_time: i64,
    pub method: SignInMethod,
    /// The clients that got a code or token through this session (whom a logout must tell).
    pub clients: Vec<String>,
    /// The idle limit: moved forward as the session is used.
    pub idle_until: i64,
    /// The absolute limit, never moved.
    pub absolute_until: i64,
}

impl BrowserSession {
    /// Whether the session may still be used at `now`.
    pub fn is_live(&self, now: i64) -> bool {
        now < self.idle_until && now < self.absolute_until
    }

    /// When the item may go: the earlier of the two limits.
    pub fn expires_at(&self) -> i64 {
        self.idle_until.min(self.absolute_until)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amr_values_round_trip() {
        for method in [SignInMethod::Password, SignInMethod::Wechat, SignInMethod::MiniProgramScan] {
            assert_eq!(SignInMethod::from_amr(method.amr()), Some(method));
        }
        assert_eq!(SignInMethod::from_amr("otp"), None);
    }

    #[test]
    fn a_session_ends_at_the_earlier_limit() {
        let session = BrowserSession {
            id_hash: "h".into(),
            sid: "s".into(),
            user_id: "u".into(),
            auth_time: 0,
            method: SignInMethod::Password,
            clients: vec![],
            idle_until: 100,
            absolute_until: 50,
        };
        assert_eq!(session.expires_at(), 50);
        assert!(session.is_live(49));
        assert!(!session.is_live(50));
        assert!(!BrowserSession { absolute_until: 500, ..session.clone() }.is_live(100));
    }
}

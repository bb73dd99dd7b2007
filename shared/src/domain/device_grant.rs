//! The device authorization grant (RFC 8628): a device without a browser (a TV, a CLI, a kiosk)
//! gets a `device_code` it keeps and a short `user_code` it shows; the user enters the user code
//! at `/device` on a phone or computer, signs in and confirms; meanwhile the device polls the
//! token endpoint with its device code.

use super::browser_session::SignInMethod;
use crate::scope::Scope;
use crate::secret::random_chars;

/// How long a device code and its user code live (RFC 8628 §3.2 `expires_in`).
pub const DEVICE_CODE_TTL_SECONDS: i64 = 600;
/// The polling interval a device starts with (§3.2 `interval`: "If no value is provided, clients
/// MUST use 5 as the default").
pub const POLL_INTERVAL_SECONDS: i64 = 5;
/// What `slow_down` adds to the interval, "for this and all subsequent requests" (§3.5).
pub const SLOW_DOWN_SECONDS: i64 = 5;

/// The user code's letters (§6.1): consonants only, so that no word (rude or not) can be spelled,
/// and no vowel-like letter (`A E I O U Y`) can be taken for a digit; upper case, as the device
/// shows them.
pub const USER_CODE_ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";
/// Letters in a user code: 20^8 ≈ 2.6 × 10^10 codes (34.5 bits, §6.1's example).
pub const USER_CODE_LEN: usize = 8;

/// A user code, normalised: eight letters of [`USER_CODE_ALPHABET`], upper case, no separator.
/// Shown as `XXXX-XXXX` ([`std::fmt::Display`]); typed in any case, with or without the hyphen
/// and spaces ([`UserCode::parse`]).
#[derive(Clone, PartialEq, Eq)]
pub struct UserCode(String);

impl UserCode {
    /// A fresh code.
    pub fn new() -> Self {
        UserCode(random_chars(USER_CODE_ALPHABET, USER_CODE_LEN))
    }

    /// What a person typed, normalised (§3.3: "the authorization server should ... ignore
    /// characters like hyphens"): case ignored, hyphens and white space dropped. `None` for
    /// anything that cannot be a code of ours, answered without a read.
    pub fn parse(typed: &str) -> Option<Self> {
        // Longer than any code with its separators: never one, and not worth a closer look.
        if typed.len() > 4 * USER_CODE_LEN {
            return None;
        }
        let letters: String =
            typed.chars().filter(|c| *c != '-' && !c.is_whitespace()).map(|c| c.to_ascii_uppercase()).collect();
        let ours = letters.len() == USER_CODE_LEN && letters.bytes().all(|b| USER_CODE_ALPHABET.contains(&b));
        ours.then_some(UserCode(letters))
    }

    /// The normalised letters (what is hashed and stored).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for UserCode {
    fn default() -> Self {
        Self::new()
    }
}

/// `XXXX-XXXX`: two halves are easier to read off a screen and to type.
impl std::fmt::Display for UserCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (first, second) = self.0.split_at(USER_CODE_LEN / 2);
        write!(f, "{first}-{second}")
    }
}

/// A user code opens a grant for whoever types it: never logged.
impl std::fmt::Debug for UserCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UserCode(..)")
    }
}

/// A device's pending or answered request, found by its device code's hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceGrant {
    /// Hash of the device code.
    pub hash: String,
    /// The client that asked (only it may poll).
    pub client_id: String,
    /// What it asked for, within its registration.
    pub scope: Scope,
    pub status: DeviceStatus,
    /// Seconds the device must wait between polls; grows by [`SLOW_DOWN_SECONDS`] with each
    /// `slow_down`.
    pub interval: i64,
    /// The earliest time of the next poll that counts.
    pub next_poll_at: i64,
    /// Redeemed for tokens already (it works once).
    pub redeemed: bool,
    pub expires_at: i64,
}

/// How far the user got with a device's request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceStatus {
    /// Nobody answered yet.
    Pending,
    Approved(DeviceApproval),
    Denied,
}

impl DeviceStatus {
    /// Its stored name.
    pub fn as_str(&self) -> &'static str {
        match self {
            DeviceStatus::Pending => "pending",
            DeviceStatus::Approved(_) => "approved",
            DeviceStatus::Denied => "denied",
        }
    }
}

/// Who approved a device's request and how they had signed in: what its tokens carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceApproval {
    /// The user the tokens are for.
    pub subject: String,
    /// The sign-in of the browser session that approved (ID token `auth_time`, `amr`, `sid`).
    pub auth_time: i64,
    pub method: SignInMethod,
    pub sid: Option<String>,
    /// What the user allowed: the request's scope, within what the client may still have then.
    pub scope: Scope,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_code_is_eight_consonants_shown_in_two_halves() {
        let code = UserCode::new();
        assert_eq!(code.as_str().len(), USER_CODE_LEN);
        assert!(code.as_str().bytes().all(|b| USER_CODE_ALPHABET.contains(&b)), "{}", code.as_str());
        let shown = code.to_string();
        assert_eq!(shown.len(), 9);
        assert_eq!(&shown[4..5], "-");
        assert_eq!(shown.replace('-', ""), code.as_str());
        assert_ne!(UserCode::new(), code);
        assert_eq!(format!("{code:?}"), "UserCode(..)");
    }

    #[test]
    fn a_typed_user_code_ignores_case_hyphens_and_spaces() {
        let code = UserCode::parse("BCDF-GHJK").expect("as shown");
        assert_eq!(code.as_str(), "BCDFGHJK");
        for typed in ["bcdfghjk", "bcdf-ghjk", " BcDf GhJk ", "BCDF - GHJK", "b-c-d-f-g-h-j-k", "BCDF\tGHJK"] {
            assert_eq!(UserCode::parse(typed).as_ref(), Some(&code), "{typed:?}");
        }
        assert_eq!(UserCode::parse(&code.to_string()), Some(code));
    }

    #[test]
    fn anything_else_is_no_user_code() {
        for typed in [
            "",
            "BCDF-GHJ",
            "BCDF-GHJKL",
            "ABCD-EFGH", // vowels are never in a code
            "BCDF-GHJ1",
            "BCDF_GHJK",
            "ＢＣＤＦＧＨＪＫ", // full-width letters
            &format!("{}BCDFGHJK", " ".repeat(40)),
        ] {
            assert_eq!(UserCode::parse(typed), None, "{typed:?}");
        }
    }

    #[test]
    fn statuses_have_their_stored_names() {
        assert_eq!(DeviceStatus::Pending.as_str(), "pending");
        assert_eq!(DeviceStatus::Denied.as_str(), "denied");
        let approval = DeviceApproval {
            subject: "u".into(),
            auth_time: 1,
            method: SignInMethod::Password,
            sid: None,
            scope: Scope::default(),
        };
        assert_eq!(DeviceStatus::Approved(approval).as_str(), "approved");
    }
}

//! Signing in on a computer by scanning a mini program's code: the ticket the code carries as its
//! `scene`, and how far the person with the phone got with it.

use crate::scope::Scope;
use crate::secret::random_hex;

/// How long a ticket (and its code) can be scanned.
pub const TICKET_TTL_SECONDS: i64 = 300;
/// How long an approved ticket waits for its browser to continue: a poll comes every 2 s.
pub const APPROVED_TTL_SECONDS: i64 = 120;
/// A ticket's length: WeChat's `scene` holds at most 32 characters.
pub const TICKET_LEN: usize = 32;

/// A ticket's `scene`: 32 hexadecimal digits (128 random bits), inside WeChat's limit of 32
/// characters and its character set.
#[derive(Clone, PartialEq, Eq)]
pub struct Ticket(String);

impl Ticket {
    /// A fresh ticket.
    pub fn new() -> Self {
        Ticket(random_hex::<{ TICKET_LEN / 2 }>())
    }

    /// `value` when it could be a ticket; anything else was never one of ours, and is answered
    /// without a read.
    pub fn parse(value: &str) -> Option<Self> {
        let plausible =
            value.len() == TICKET_LEN && value.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        plausible.then(|| Ticket(value.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Ticket {
    fn default() -> Self {
        Self::new()
    }
}

/// Tickets are shown to whoever sees the screen, but are still not logged.
impl std::fmt::Debug for Ticket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ticket(..)")
    }
}

/// Where a ticket stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanStatus {
    /// Shown, not scanned yet.
    Pending,
    /// Scanned: the mini program shows its confirmation.
    Scanned,
    Approved,
    Denied,
}

impl ScanStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ScanStatus::Pending => "pending",
            ScanStatus::Scanned => "scanned",
            ScanStatus::Approved => "approved",
            ScanStatus::Denied => "denied",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [ScanStatus::Pending, ScanStatus::Scanned, ScanStatus::Approved, ScanStatus::Denied]
            .into_iter()
            .find(|s| s.as_str() == value)
    }

    /// Whether the person with the phone has answered.
    pub fn is_answer(self) -> bool {
        matches!(self, ScanStatus::Approved | ScanStatus::Denied)
    }
}

/// A ticket shown on a sign-in page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanTicket {
    /// Hash of the ticket.
    pub hash: String,
    /// Hash of the pending authorization request the page belongs to: what an approval completes.
    pub request_hash: String,
    /// Hash of the binding cookie of the browser that shows the code: only it may poll and
    /// continue.
    pub browser_hash: String,
    /// What the mini program's confirmation shows: the client asking, and for what.
    pub client_id: String,
    pub client_name: String,
    pub scope: Scope,
    pub status: ScanStatus,
    /// The user who scanned it first: the only one who may answer it.
    pub scanner: Option<String>,
    /// The browser continued with the approval (it works once).
    pub used: bool,
    pub expires_at: i64,
}

/// The code image of a ticket, as WeChat made it.
#[derive(Clone, PartialEq, Eq)]
pub struct ScanImage {
    pub content_type: String,
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for ScanImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ScanImage({}, {} bytes)", self.content_type, self.bytes.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ticket_is_32_hex_digits_and_parses_back() {
        let ticket = Ticket::new();
        assert_eq!(ticket.as_str().len(), 32);
        assert_eq!(Ticket::parse(ticket.as_str()), Some(ticket.clone()));
        assert_ne!(Ticket::new(), ticket);
        assert_eq!(format!("{ticket:?}"), "Ticket(..)");
    }

    #[test]
    fn anything_else_is_not_a_ticket() {
        for bad in ["", "abc", &"g".repeat(32), &"A".repeat(32), &"a".repeat(31), &"a".repeat(33), "../../etc/passwd"] {
            assert_eq!(Ticket::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn statuses_round_trip_and_only_approve_and_deny_answer() {
        for status in [ScanStatus::Pending, ScanStatus::Scanned, ScanStatus::Approved, ScanStatus::Denied] {
            assert_eq!(ScanStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(ScanStatus::parse("expired"), None);
        assert!(ScanStatus::Approved.is_answer() && ScanStatus::Denied.is_answer());
        assert!(!ScanStatus::Pending.is_answer() && !ScanStatus::Scanned.is_answer());
    }
}

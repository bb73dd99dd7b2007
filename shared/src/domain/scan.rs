//! Signing in on a computer by scanning a mini program's code: the ticket the code carries as its
//! `scene`, and how far the person with the phone got with it.

use std::net::IpAddr;

use crate::domain::user_agent;
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
    /// The browser that shows the code: the one an approval signs in.
    pub requested_from: RequestedFrom,
    pub status: ScanStatus,
    /// The user who scanned it first: the only one who may answer it.
    pub scanner: Option<String>,
    /// The browser continued with the approval (it works once).
    pub used: bool,
    pub expires_at: i64,
}

/// The browser that shows a code, as the person with the phone can recognise it: a code shown
/// on someone else's screen (a phishing page relaying ours) then names a browser or a network
/// that is not theirs. Each part is absent when unknown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestedFrom {
    /// "Chrome", "Edge", "QQ Browser", …
    pub browser: Option<String>,
    /// "Windows", "macOS", …
    pub os: Option<String>,
    /// The address the request came from, as API Gateway saw it (an IPv4-mapped IPv6 address as
    /// the IPv4 address it is).
    pub ip: Option<IpAddr>,
}

impl RequestedFrom {
    /// The browser with `user_agent` at `ip`.
    pub fn of(user_agent: Option<&str>, ip: Option<&str>) -> Self {
        let ua = user_agent.unwrap_or_default();
        RequestedFrom {
            browser: user_agent::browser_name(ua).map(str::to_string),
            os: user_agent::os_name(ua).map(str::to_string),
            ip: ip.and_then(parse_ip),
        }
    }

    /// Whether a request from `ip` comes from the same network: the same IPv4 address (one NAT,
    /// one Wi-Fi) or the same IPv6 /64. `None` when either address is unknown, or when one came
    /// over IPv4 and the other over IPv6 (a dual-stack network can do that).
    pub fn same_network_as(&self, ip: Option<&str>) -> Option<bool> {
        match (self.ip?, parse_ip(ip?)?) {
            (IpAddr::V4(a), IpAddr::V4(b)) => Some(a == b),
            (IpAddr::V6(a), IpAddr::V6(b)) => Some(a.segments()[..4] == b.segments()[..4]),
            _ => None,
        }
    }

    /// The address as the person with the phone is shown it: its network only (`203.0.113.*`,
    /// `2001:db8:1:2::/64`). Whoever scans a code may be a stranger looking over a shoulder;
    /// the network is enough to tell one's own from another.
    pub fn shown_ip(&self) -> Option<String> {
        Some(match self.ip? {
            IpAddr::V4(v4) => {
                let [a, b, c, _] = v4.octets();
                format!("{a}.{b}.{c}.*")
            }
            IpAddr::V6(v6) => {
                let [a, b, c, d, ..] = v6.segments();
                format!("{}/64", std::net::Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
            }
        })
    }
}

/// `ip` parsed, an IPv4-mapped IPv6 address as the IPv4 address it is.
pub fn parse_ip(ip: &str) -> Option<IpAddr> {
    ip.parse::<IpAddr>().ok().map(|ip| ip.to_canonical())
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
    fn the_requesting_browser_is_described_and_its_network_compared() {
        let chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
        let from = RequestedFrom::of(Some(chrome), Some("203.0.113.7"));
        assert_eq!((from.browser.as_deref(), from.os.as_deref()), (Some("Chrome"), Some("Windows")));
        assert_eq!(from.ip, parse_ip("203.0.113.7"));
        assert_eq!(from.same_network_as(Some("203.0.113.7")), Some(true));
        assert_eq!(from.same_network_as(Some("::ffff:203.0.113.7")), Some(true));
        assert_eq!(from.same_network_as(Some("198.51.100.2")), Some(false));
        assert_eq!(from.same_network_as(None), None);
        assert_eq!(from.same_network_as(Some("not an address")), None);

        assert_eq!(from.shown_ip().as_deref(), Some("203.0.113.*"));
        let mapped = RequestedFrom::of(None, Some("::ffff:203.0.113.7"));
        assert_eq!(mapped.ip.map(|ip| ip.to_string()).as_deref(), Some("203.0.113.7"));

        let v6 = RequestedFrom::of(None, Some("2001:db8:1:2::10"));
        assert_eq!(v6.same_network_as(Some("2001:db8:1:2:aaaa::1")), Some(true));
        assert_eq!(v6.same_network_as(Some("2001:db8:1:3::10")), Some(false));
        assert_eq!(v6.same_network_as(Some("203.0.113.7")), None, "dual stack: unknown");
        assert_eq!(v6.shown_ip().as_deref(), Some("2001:db8:1:2::/64"));

        let unknown = RequestedFrom::of(None, Some("<script>"));
        assert_eq!(unknown, RequestedFrom::default());
        assert_eq!(unknown.same_network_as(Some("203.0.113.7")), None);
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

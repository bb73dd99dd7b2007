//! Signing in on a computer by scanning a mini program's code (the deployment names the mini
//! program: `SCAN_LOGIN_CLIENT`, `SCAN_LOGIN_PAGE`).
//!
//! 1. A desktop sign-in page gets a ticket ([`offer`]): 128 random bits as the code's `scene`,
//!    stored for 5 minutes with the pending request it belongs to and the hash of the browser's
//!    binding cookie; WeChat's `getwxacodeunlimit` makes the code (with the cached server token),
//!    cached per ticket for the image route. A refusal (page not published, rate limit) is told on the
//!    page beside the other ways to sign in.
//! 2. The mini program's user scans it and answers ([`answer`], `POST /wechat/scan` with their
//!    access token of that mini program's client): the ticket binds to the first user who scans.
//!    The answer names the client, the scopes and the browser that shows the code (its name,
//!    system and network, and whether the phone is on the same network), so that a code relayed
//!    from someone else's screen can be told apart from one on the user's own.
//! 3. The page polls ([`poll`]: one read) and, once approved, the browser that showed the code
//!    continues ([`continue_sign_in`]): once, and only that browser; a browser session starts for
//!    the scanner (`amr: mini_program_scan`) and the pending request is approved for it.
//!
//! A ticket nobody knows (or another browser's) polls as `expired`: polling learns nothing.

use serde::Serialize;

use crate::App;
use crate::config::ScanLogin;
use crate::domain::access_claims::AccessClaims;
use crate::domain::authorization::PendingAuthorization;
use crate::domain::browser_session::SignInMethod;
use crate::domain::client::Client;
use crate::domain::scan::{RequestedFrom, ScanImage, ScanStatus, ScanTicket, TICKET_TTL_SECONDS, Ticket};
use crate::domain::wechat_web::BrowserKind;
use crate::error::{Error, OAuthError};
use crate::metrics::{self, Metric};
use crate::oauth::authorization::{self, Refusal, Unredirectable};
use crate::oauth::browser_session;
use crate::oauth::server_token::with_server_token;
use crate::secret::{constant_time_eq, hash};
use crate::store::Written;
use crate::store::scan_tickets::ScanAnswer;
use crate::wechat::api::WechatError;
use crate::wechat::wxacode::{self, CodeRequest, PAGE_NOT_PUBLISHED, RATE_LIMITED};

/// Where a ticket's routes live: `{PATH}{ticket}` (its status), `/image`, `/continue`.
pub const PATH: &str = "/oauth/scan/";

/// What a sign-in page shows for scan sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanOffer {
    Nothing,
    /// The code of this ticket.
    Code(Ticket),
    /// WeChat would not make the code: the page says why.
    Unavailable(ScanProblem),
}

/// Why no code could be shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanProblem {
    /// 41030: the confirmation page is not in the mini program's published version.
    NotPublished,
    /// 45009: WeChat's rate limit for codes (5,000 a minute).
    Quota,
    /// WeChat failed otherwise (logged).
    Failed,
}

/// The ticket and code for a sign-in page of `pending` shown to `browser` (described as
/// `requested_from`, bound by the binding cookie hashing to `browser_hash`), when the deployment
/// offers scan sign-in there.
pub async fn offer(
    app: &App,
    browser: BrowserKind,
    requested_from: RequestedFrom,
    client: &Client,
    pending: &PendingAuthorization,
    browser_hash: &str,
    now: i64,
) -> Result<ScanOffer, Error> {
    let Some(scan) = &app.config.scan_login else { return Ok(ScanOffer::Nothing) };
    // Only a computer's screen can be scanned by the phone in the same hand.
    if browser != BrowserKind::Desktop {
        return Ok(ScanOffer::Nothing);
    }
    let ticket = Ticket::new();
    let stored = ScanTicket {
        hash: hash(ticket.as_str()),
        request_hash: pending.id_hash.clone(),
        browser_hash: browser_hash.to_string(),
        client_id: client.id.clone(),
        client_name: client.name.clone(),
        scope: pending.scope.clone(),
        requested_from,
        status: ScanStatus::Pending,
        scanner: None,
        used: false,
        expires_at: now + TICKET_TTL_SECONDS,
    };
    let (put, code) = tokio::join!(app.store.put_scan_ticket(&stored), code_image(app, scan, &ticket, now));
    put?;
    match code {
        Ok(image) => {
            app.store.put_scan_image(&stored.hash, &image, stored.expires_at).await?;
            Ok(ScanOffer::Code(ticket))
        }
        Err(problem) => Ok(ScanOffer::Unavailable(problem)),
    }
}

/// WeChat's code for `ticket`, or why there is none (logged: each is the deployment's to fix).
async fn code_image(app: &App, scan: &ScanLogin, ticket: &Ticket, now: i64) -> Result<ScanImage, ScanProblem> {
    let wechat_app = match app.clients.get(&app.store, &scan.client_id).await {
        Ok(Some(client)) => client.wechat,
        Ok(None) => None,
        Err(e) => {
            tracing::error!(error = %e, "scan sign-in: the mini program's client could not be read");
            return Err(ScanProblem::Failed);
        }
    };
    let Some(wechat_app) = wechat_app else {
        tracing::error!(client_id = %scan.client_id, "scan sign-in: SCAN_LOGIN_CLIENT is not a mini-program client");
        return Err(ScanProblem::Failed);
    };
    let request = CodeRequest { scene: ticket.as_str(), page: &scan.page, env_version: &scan.env_version };
    let request = &request;
    let made = with_server_token(app, &wechat_app, now, |token| async move {
        wxacode::unlimited_code(&app.wechat, &token, request).await
    })
    .await;
    match made {
        Ok(Ok(image)) => Ok(image),
        Ok(Err(WechatError::Api { errcode: PAGE_NOT_PUBLISHED, .. })) => {
            tracing::error!(page = %scan.page, "scan sign-in: WeChat says SCAN_LOGIN_PAGE is not published (41030)");
            Err(ScanProblem::NotPublished)
        }
        Ok(Err(WechatError::Api { errcode: RATE_LIMITED, .. })) => {
            tracing::error!("scan sign-in: WeChat's rate limit for mini-program codes is reached (45009)");
            Err(ScanProblem::Quota)
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "scan sign-in: WeChat did not make the code");
            Err(ScanProblem::Failed)
        }
        Err(e) => {
            tracing::error!(error = %e, "scan sign-in: no server token for the mini program");
            Err(ScanProblem::Failed)
        }
    }
}

/// The cached code image of `ticket`, for the browser that shows it.
pub async fn image(
    app: &App,
    ticket: &str,
    browser_cookie: Option<&str>,
    now: i64,
) -> Result<Option<ScanImage>, Error> {
    let Some(ticket) = bound_ticket(app, ticket, browser_cookie, now).await? else { return Ok(None) };
    app.store.scan_image(&ticket.hash, now).await
}

/// What a poll answers: `{"status"}`, and `continue` once approved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Poll {
    pub status: &'static str,
    #[serde(rename = "continue", skip_serializing_if = "Option::is_none")]
    pub continue_url: Option<String>,
}

/// Where `ticket` stands, as the browser that shows it may know: one read.
pub async fn poll(app: &App, ticket: &str, browser_cookie: Option<&str>, now: i64) -> Result<Poll, Error> {
    let expired = Poll { status: "expired", continue_url: None };
    let Some(stored) = bound_ticket(app, ticket, browser_cookie, now).await? else { return Ok(expired) };
    if stored.used {
        return Ok(expired);
    }
    let continue_url =
        (stored.status == ScanStatus::Approved).then(|| format!("{}{PATH}{ticket}/continue", app.config.issuer));
    Ok(Poll { status: stored.status.as_str(), continue_url })
}

/// The live ticket `ticket` of the browser holding `browser_cookie`; `None` for anything else.
async fn bound_ticket(
    app: &App,
    ticket: &str,
    browser_cookie: Option<&str>,
    now: i64,
) -> Result<Option<ScanTicket>, Error> {
    let (Some(ticket), Some(cookie)) = (Ticket::parse(ticket), browser_cookie) else { return Ok(None) };
    let stored = app.store.scan_ticket(&hash(ticket.as_str()), now).await?;
    Ok(stored.filter(|t| constant_time_eq(&t.browser_hash, &hash(cookie))))
}

/// How a browser's continue ends.
#[derive(Debug)]
pub enum Continued {
    /// Not answered yet: the page waits (and looks again).
    Waiting(ScanStatus),
    /// The person with the phone said no.
    Declined,
    /// Signed in: where to send the browser, and its new session cookie's value.
    SignedIn { location: String, session_cookie: String },
}

/// The browser that showed `ticket` continues after the mini program's answer.
pub async fn continue_sign_in(
    app: &App,
    ticket: &str,
    browser_cookie: Option<&str>,
    now: i64,
) -> Result<Continued, Refusal> {
    let Some(stored) = bound_ticket(app, ticket, browser_cookie, now).await? else {
        return Err(Refusal::Shown(Unredirectable::Expired));
    };
    let (ScanStatus::Approved, Some(scanner)) = (stored.status, &stored.scanner) else {
        return Ok(match stored.status {
            ScanStatus::Denied => Continued::Declined,
            status => Continued::Waiting(status),
        });
    };
    // Marked used first: two continues at once never both start a session.
    if app.store.use_scan_ticket(&stored.hash, &stored.browser_hash, now).await? == Written::LostRace {
        return Err(Refusal::Shown(Unredirectable::AlreadyAnswered));
    }
    let Some(pending) = app.store.pending_authorization(&stored.request_hash, now).await? else {
        return Err(Refusal::Shown(Unredirectable::Expired));
    };
    let resumed = authorization::recheck(app, pending, now).await?;
    let (session_cookie, session) = browser_session::start(app, scanner, SignInMethod::MiniProgramScan, now).await?;
    let location = authorization::approve(app, &resumed, &session, now).await?;
    Ok(Continued::SignedIn { location, session_cookie })
}

/// What the mini program does with a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanAction {
    /// Scanned: bind the ticket to the user, and show what it asks.
    Scanned,
    Approve,
    Deny,
}

impl ScanAction {
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "scanned" => Some(ScanAction::Scanned),
            "approve" => Some(ScanAction::Approve),
            "deny" => Some(ScanAction::Deny),
            _ => None,
        }
    }

    fn status(self) -> ScanStatus {
        match self {
            ScanAction::Scanned => ScanStatus::Scanned,
            ScanAction::Approve => ScanStatus::Approved,
            ScanAction::Deny => ScanStatus::Denied,
        }
    }
}

/// What the mini program's confirmation page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reply {
    pub status: &'static str,
    pub client_name: String,
    pub scopes: Vec<String>,
    /// Seconds the ticket has left.
    pub expires_in: i64,
    pub requested_from: Requester,
}

/// The browser that shows the code, for the confirmation; each part only when known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Requester {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub browser: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    /// Its network: `203.0.113.*`, `2001:db8:1:2::/64`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// Whether the phone asks from the same network (same IPv4 address, same IPv6 /64).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub same_network: Option<bool>,
}

impl Requester {
    fn of(from: &RequestedFrom, phone_ip: Option<&str>) -> Self {
        Requester {
            browser: from.browser.clone(),
            os: from.os.clone(),
            ip: from.shown_ip(),
            same_network: from.same_network_as(phone_ip),
        }
    }
}

/// The mini program's `action` on the ticket in `scene`, for the user of `claims` (an access
/// token of the deployment's scan mini program), asking from `phone_ip`.
pub async fn answer(
    app: &App,
    claims: &AccessClaims,
    scene: &str,
    action: ScanAction,
    phone_ip: Option<&str>,
    now: i64,
) -> Result<Reply, Error> {
    let Some(scan) = &app.config.scan_login else {
        return Err(OAuthError::invalid_request("sign-in by scanning is not enabled on this server").into());
    };
    if claims.client_id != scan.client_id {
        return Err(OAuthError::access_denied("this access token is not of the scan sign-in mini program").into());
    }
    let gone = || OAuthError::invalid_grant("this code expired or was answered already: show a new one").into();
    let Some(ticket) = Ticket::parse(scene) else { return Err(gone()) };
    let answered = app.store.answer_scan(&hash(ticket.as_str()), &claims.sub, action.status(), now).await?;
    let outcome = match (&answered, action) {
        (ScanAnswer::Done(_), ScanAction::Approve) => Some("approved"),
        (ScanAnswer::Done(_), ScanAction::Deny) => Some("denied"),
        (ScanAnswer::OtherUser, _) => Some("other_user"),
        _ => None,
    };
    if let Some(outcome) = outcome {
        metrics::count(Metric::ScanAnswers, &[("Outcome", outcome)]);
    }
    match answered {
        ScanAnswer::Done(t) => Ok(Reply {
            status: t.status.as_str(),
            client_name: if t.client_name.is_empty() { t.client_id.clone() } else { t.client_name.clone() },
            scopes: t.scope.iter().map(str::to_string).collect(),
            expires_in: (t.expires_at - now).max(0),
            requested_from: Requester::of(&t.requested_from, phone_ip),
        }),
        ScanAnswer::OtherUser => Err(OAuthError::invalid_request("another user scanned this code").into()),
        ScanAnswer::Gone => Err(gone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_parse_to_their_statuses() {
        assert_eq!(ScanAction::parse("scanned").map(ScanAction::status), Some(ScanStatus::Scanned));
        assert_eq!(ScanAction::parse("approve").map(ScanAction::status), Some(ScanStatus::Approved));
        assert_eq!(ScanAction::parse("deny").map(ScanAction::status), Some(ScanStatus::Denied));
        assert_eq!(ScanAction::parse("approved"), None);
    }

    #[test]
    fn a_poll_names_continue_only_when_there_is_one() {
        let pending = serde_json::to_string(&Poll { status: "pending", continue_url: None }).unwrap_or_default();
        assert_eq!(pending, r#"{"status":"pending"}"#);
        let approved = Poll { status: "approved", continue_url: Some("https://a/oauth/scan/x/continue".into()) };
        let json = serde_json::to_string(&approved).unwrap_or_default();
        assert_eq!(json, r#"{"status":"approved","continue":"https://a/oauth/scan/x/continue"}"#);
    }

    #[test]
    fn the_requester_names_only_what_is_known() {
        let unknown = Requester::of(&RequestedFrom::default(), Some("192.0.2.1"));
        assert_eq!(serde_json::to_string(&unknown).unwrap_or_default(), "{}");
        let from = RequestedFrom::of(Some("Mozilla/5.0 (Macintosh) Version/18.1 Safari/605.1.15"), Some("192.0.2.1"));
        let known = serde_json::to_string(&Requester::of(&from, Some("192.0.2.9"))).unwrap_or_default();
        assert_eq!(known, r#"{"browser":"Safari","os":"macOS","ip":"192.0.2.*","same_network":false}"#);
    }
}

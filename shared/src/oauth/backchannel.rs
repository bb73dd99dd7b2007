//! OpenID Connect Back-Channel Logout 1.0: whom a session's end must tell, and telling one of
//! them. Ending a session queues one [`LogoutNotice`] per client that got a code or token
//! through it and registers a `backchannel_logout_uri` ([`notices`]); the `backchannel-logout`
//! function then [`deliver`]s each: a fresh logout token POSTed as a form, 200 or 204 being
//! delivered (§2.8). Anything else is retried by the queue, with backoff, until its receive
//! limit moves the notice to the dead-letter queue, where an alarm waits.

use std::time::Duration;

use crate::App;
use crate::domain::browser_session::BrowserSession;
use crate::domain::logout_notice::LogoutNotice;
use crate::error::Error;
use crate::store::Store;

/// How long a relying party may take to answer (the notes' 5 s: a stalled RP must not hold
/// the batch until the function's timeout).
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(5);

/// The notices `sessions`' end must send: one per client of each session that registers a
/// back-channel URI (a client read each, uncached: a logout must see a registration made a
/// moment ago).
pub async fn notices(store: &Store, sessions: &[BrowserSession]) -> Result<Vec<LogoutNotice>, Error> {
    let mut notices = Vec::new();
    for session in sessions {
        for client_id in &session.clients {
            if let Some(client) = store.client(client_id).await?
                && client.backchannel_logout.is_some()
            {
                notices.push(LogoutNotice {
                    client_id: client.id,
                    sub: session.user_id.clone(),
                    sid: session.sid.clone(),
                });
            }
        }
    }
    Ok(notices)
}

/// How one delivery attempt went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The relying party answered 200 or 204.
    Delivered,
    /// The client was deleted, or registers no back-channel URI any more: nobody to tell.
    NotWanted,
    /// Anything else (its status, or why it could not be reached): to be tried again.
    Failed(String),
}

/// Sends logout tokens; one per container (its connections are reused).
#[derive(Debug, Clone)]
pub struct Courier {
    http: reqwest::Client,
}

impl Courier {
    pub fn new() -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(DELIVERY_TIMEOUT)
            .connect_timeout(DELIVERY_TIMEOUT)
            // §2.5: the URI is the one registered; a redirect would send the token elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("wxauth/", env!("CARGO_PKG_VERSION"), " back-channel logout"))
            .build()?;
        Ok(Self { http })
    }

    /// One attempt at telling `notice`'s client, with a logout token signed now. The client is
    /// read again (uncached): its current URI counts, and a deleted client is told nothing.
    pub async fn deliver(&self, app: &App, notice: &LogoutNotice, now: i64) -> Result<Delivery, Error> {
        let Some(uri) = app.store.client(&notice.client_id).await?.and_then(|c| c.backchannel_logout).map(|b| b.uri)
        else {
            return Ok(Delivery::NotWanted);
        };
        let token = crate::tokens::logout::issue(app, notice, now).await?;
        let body =
            serde_urlencoded::to_string([("logout_token", token.as_str())]).map_err(|e| Error::Internal(e.into()))?;
        let sent = self
            .http
            .post(&uri)
            .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await;
        Ok(match sent {
            Ok(res) if matches!(res.status().as_u16(), 200 | 204) => Delivery::Delivered,
            Ok(res) => Delivery::Failed(format!("answered {}", res.status().as_u16())),
            // Without the URL: reqwest's message would carry it, and a relying party's URI may
            // hold a credential in its query.
            Err(e) if e.is_timeout() => Delivery::Failed("timed out".into()),
            Err(e) if e.is_connect() => Delivery::Failed("could not connect".into()),
            Err(_) => Delivery::Failed("the request failed".into()),
        })
    }
}

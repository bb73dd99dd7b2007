//! Scan sign-in tickets, `SCAN#<sha256(ticket)>` / `SCAN`, and the code image WeChat made for
//! each, `SCAN#<sha256(ticket)>` / `IMAGE`.
//!
//! Rules:
//! - Stored under the ticket's hash, never the ticket (it is in the code and on the screen, but a
//!   leaked table still names no live ticket).
//! - A ticket lives 5 minutes (`TICKET_TTL_SECONDS`). It binds to the first user who scans or
//!   answers it (`scanner`, conditional): nobody else can answer it. It is answered once
//!   (`approved` or `denied`, conditional on not being answered); the same user's repeated answer
//!   (a retry whose response was lost) reads as done. An approval leaves the browser
//!   `APPROVED_TTL_SECONDS` to continue.
//! - The browser continues with an approval once: a conditional update marks it (`used_by`, a
//!   value of this attempt's own, so the SDK's retry of that write is recognised as ours).
//! - The image is cached per ticket (never per user) as long as the ticket lives, in an item of
//!   its own, so that a poll reads the small ticket item only.
//! - Reads check `expires_at` themselves: TTL deletes late.

use aws_sdk_dynamodb::types::ReturnValue;

use super::backend::{Store, Written, conditional};
use super::item::{Item, ItemContext as _, Key, b, n, s};
use crate::domain::scan::{APPROVED_TTL_SECONDS, RequestedFrom, ScanImage, ScanStatus, ScanTicket, parse_ip};
use crate::error::Error;
use crate::scope::Scope;
use crate::secret::random_id;

const PREFIX: &str = "SCAN#";

/// The key of the ticket that hashes to `hash`.
pub fn ticket_key(hash: &str) -> Key {
    Key::new(format!("{PREFIX}{hash}"), "SCAN")
}

/// The key of the code image of the ticket that hashes to `hash`.
pub fn image_key(hash: &str) -> Key {
    Key::new(format!("{PREFIX}{hash}"), "IMAGE")
}

/// How an answer from the mini program was taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanAnswer {
    /// Recorded (or recorded before, by the same user): the ticket as it is now.
    Done(Box<ScanTicket>),
    /// Another user scanned the ticket first.
    OtherUser,
    /// Unknown, expired, used, or answered otherwise already.
    Gone,
}

impl Store {
    pub async fn put_scan_ticket(&self, ticket: &ScanTicket) -> Result<(), Error> {
        // The key is the hash of 128 random bits: it never meets another ticket.
        self.put_unconditional(to_item(ticket)).await
    }

    /// The ticket that hashes to `hash`, unless absent or expired.
    pub async fn scan_ticket(&self, hash: &str, now: i64) -> Result<Option<ScanTicket>, Error> {
        let Some(item) = self.get(ticket_key(hash), now).await? else { return Ok(None) };
        from_item(&item).reading("scan ticket").map(Some)
    }

    /// Records `user`'s `status` for the ticket (`Scanned`, `Approved` or `Denied`), binding the
    /// ticket to `user` if nobody scanned it yet.
    pub async fn answer_scan(&self, hash: &str, user: &str, status: ScanStatus, now: i64) -> Result<ScanAnswer, Error> {
        let mut update = self
            .update_item(ticket_key(hash))
            .condition_expression(
                "attribute_exists(pk) AND expires_at > :now AND scan_status IN (:pending, :scanned) \
                 AND (attribute_not_exists(scanner) OR scanner = :user)",
            )
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":pending", s(ScanStatus::Pending.as_str()))
            .expression_attribute_values(":scanned", s(ScanStatus::Scanned.as_str()))
            .expression_attribute_values(":user", s(user))
            .expression_attribute_values(":status", s(status.as_str()))
            .return_values(ReturnValue::AllNew);
        update = if status == ScanStatus::Approved {
            update
                .update_expression("SET scanner = :user, scan_status = :status, expires_at = :until")
                .expression_attribute_values(":until", n(now + APPROVED_TTL_SECONDS))
        } else {
            update.update_expression("SET scanner = :user, scan_status = :status")
        };
        if let Some(out) = conditional(update.send().await, "UpdateItem")? {
            let ticket = from_item(&Item(out.attributes.unwrap_or_default())).reading("scan ticket")?;
            return Ok(ScanAnswer::Done(Box::new(ticket)));
        }
        let Some(ticket) = self.scan_ticket(hash, now).await? else { return Ok(ScanAnswer::Gone) };
        Ok(match &ticket.scanner {
            Some(scanner) if scanner != user => ScanAnswer::OtherUser,
            // The same answer again (a retry), or a scan after the answer: what stands.
            Some(_) if ticket.status == status || status == ScanStatus::Scanned => ScanAnswer::Done(Box::new(ticket)),
            _ => ScanAnswer::Gone,
        })
    }

    /// Marks an approved ticket used by the browser whose binding cookie hashes to
    /// `browser_hash`: `LostRace` when it is not approved, expired, another browser's, or used.
    pub async fn use_scan_ticket(&self, hash: &str, browser_hash: &str, now: i64) -> Result<Written, Error> {
        let mark = random_id();
        let result = self
            .update_item(ticket_key(hash))
            .update_expression("SET used_by = :mark")
            .condition_expression(
                "attribute_exists(pk) AND expires_at > :now AND scan_status = :approved \
                 AND browser_hash = :browser AND attribute_not_exists(used_by)",
            )
            .expression_attribute_values(":mark", s(&mark))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":approved", s(ScanStatus::Approved.as_str()))
            .expression_attribute_values(":browser", s(browser_hash))
            .send()
            .await;
        if conditional(result, "UpdateItem")?.is_some() {
            return Ok(Written::Yes);
        }
        let ours = self
            .get(ticket_key(hash), now)
            .await?
            .is_some_and(|item| item.opt_string("used_by").as_deref() == Some(mark.as_str()));
        Ok(if ours { Written::Yes } else { Written::LostRace })
    }

    /// Caches the code image of the ticket hashing to `hash` until `expires_at`.
    pub async fn put_scan_image(&self, hash: &str, image: &ScanImage, expires_at: i64) -> Result<(), Error> {
        let item = Item::keyed(image_key(hash))
            .set("content_type", s(&image.content_type))
            .set("image", b(&image.bytes))
            .set("expires_at", n(expires_at));
        self.put_unconditional(item).await
    }

    /// The cached code image of the ticket hashing to `hash`, unless absent or expired.
    pub async fn scan_image(&self, hash: &str, now: i64) -> Result<Option<ScanImage>, Error> {
        let Some(item) = self.get(image_key(hash), now).await? else { return Ok(None) };
        let image = (|| Ok(ScanImage { content_type: item.string("content_type")?, bytes: item.bytes("image")? }))();
        image.reading("scan image").map(Some)
    }
}

/// A ticket as it is put; `scanner`, the status after `pending` and `used_by` are only ever set
/// by the conditional updates above.
fn to_item(t: &ScanTicket) -> Item {
    Item::keyed(ticket_key(&t.hash))
        .set("request_hash", s(&t.request_hash))
        .set("browser_hash", s(&t.browser_hash))
        .set("client_id", s(&t.client_id))
        .set("client_name", s(&t.client_name))
        .set("scope", s(t.scope.to_string()))
        .set("scan_status", s(t.status.as_str()))
        .set("expires_at", n(t.expires_at))
        .set_opt("scanner", t.scanner.as_ref().map(s))
        .set_opt("from_browser", t.requested_from.browser.as_ref().map(s))
        .set_opt("from_os", t.requested_from.os.as_ref().map(s))
        .set_opt("from_ip", t.requested_from.ip.map(|ip| s(ip.to_string())))
}

fn from_item(item: &Item) -> anyhow::Result<ScanTicket> {
    let status = item.string("scan_status")?;
    Ok(ScanTicket {
        hash: item.string_after("pk", PREFIX)?,
        request_hash: item.string("request_hash")?,
        browser_hash: item.string("browser_hash")?,
        client_id: item.string("client_id")?,
        client_name: item.opt_string("client_name").unwrap_or_default(),
        scope: Scope::parse(&item.opt_string("scope").unwrap_or_default())
            .map_err(|_| anyhow::anyhow!("stored scope is malformed"))?,
        requested_from: RequestedFrom {
            browser: item.opt_string("from_browser"),
            os: item.opt_string("from_os"),
            ip: match item.opt_string("from_ip") {
                Some(ip) => Some(parse_ip(&ip).ok_or_else(|| anyhow::anyhow!("stored from_ip is malformed"))?),
                None => None,
            },
        },
        status: ScanStatus::parse(&status).ok_or_else(|| anyhow::anyhow!("unknown scan status {status:?}"))?,
        scanner: item.opt_string("scanner"),
        used: item.opt_string("used_by").is_some(),
        expires_at: item.number("expires_at")?,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_ticket_round_trips_through_its_item() {
        let ticket = ScanTicket {
            hash: "h".into(),
            request_hash: "r".into(),
            browser_hash: "b".into(),
            client_id: "web".into(),
            client_name: "Web".into(),
            scope: Scope::parse("openid profile").unwrap(),
            requested_from: RequestedFrom::of(Some("Mozilla/5.0 (Windows NT 10.0) Firefox/133.0"), Some("192.0.2.1")),
            status: ScanStatus::Pending,
            scanner: None,
            used: false,
            expires_at: 300,
        };
        let item = to_item(&ticket);
        assert_eq!(item.string("pk").unwrap(), "SCAN#h");
        assert_eq!(from_item(&item).unwrap(), ticket);
        let unknown = ScanTicket { requested_from: RequestedFrom::default(), ..ticket };
        assert_eq!(from_item(&to_item(&unknown)).unwrap(), unknown);
    }
}

//! The back-channel logout queue (SQS): when a browser session ends, one message per relying
//! party to tell is queued here, and the `backchannel-logout` function delivers them (Lambda's
//! event source mapping; locally the local server polls the same queue). A message is a
//! [`LogoutNotice`] as JSON and nothing secret: the logout token is signed at delivery, fresh
//! for every attempt.
//!
//! A notice sent twice (a retried send whose answer was lost) tells a relying party twice that
//! a session ended, which Back-Channel Logout 1.0 §2.8 has it accept.

use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use serde::{Deserialize, Serialize};

use crate::aws::classify;
use crate::domain::logout_notice::LogoutNotice;
use crate::error::Error;

/// SendMessageBatch takes at most ten entries.
const BATCH: usize = 10;
/// Entries SQS failed on its side are sent again this many times.
const ATTEMPTS: usize = 3;
/// The longest a failed notice waits (ChangeMessageVisibility allows 12 hours).
const MAX_RETRY_DELAY_SECONDS: u64 = 900;

/// The queue, or its absence (`BACKCHANNEL_LOGOUT_QUEUE_URL` unset).
#[derive(Debug, Clone)]
pub struct LogoutQueue {
    sqs: aws_sdk_sqs::Client,
    url: Option<String>,
}

/// The message body: a contract between versions, like an item's attributes.
#[derive(Serialize, Deserialize)]
struct Message {
    client_id: String,
    sub: String,
    sid: String,
}

impl LogoutQueue {
    pub fn new(sqs: aws_sdk_sqs::Client, url: Option<String>) -> Self {
        Self { sqs, url }
    }

    pub fn url(&self) -> Option<&str> {
        self.url.as_deref()
    }

    /// The SQS client (the local server polls with it).
    pub fn sqs(&self) -> &aws_sdk_sqs::Client {
        &self.sqs
    }

    /// Queues every notice, or fails (503): a caller ends the session only after this
    /// succeeded, so a fault leaves it to be ended again rather than a relying party untold.
    pub async fn send(&self, notices: &[LogoutNotice]) -> Result<(), Error> {
        if notices.is_empty() {
            return Ok(());
        }
        let Some(url) = &self.url else {
            tracing::error!(
                notices = notices.len(),
                "BACKCHANNEL_LOGOUT_QUEUE_URL is not set: relying parties are not told that a session ended"
            );
            return Ok(());
        };
        for chunk in notices.chunks(BATCH) {
            self.send_batch(url, chunk).await?;
        }
        Ok(())
    }

    async fn send_batch(&self, url: &str, notices: &[LogoutNotice]) -> Result<(), Error> {
        let mut pending: Vec<(String, String)> =
            notices.iter().enumerate().map(|(i, notice)| (i.to_string(), encode(notice))).collect();
        for _ in 0..ATTEMPTS {
            let entries = pending
                .iter()
                .map(|(id, body)| SendMessageBatchRequestEntry::builder().id(id).message_body(body).build())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| Error::Internal(e.into()))?;
            let sent = self
                .sqs
                .send_message_batch()
                .queue_url(url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| classify("SQS", "SendMessageBatch", e))?;
            if let Some(ours) = sent.failed.iter().find(|f| f.sender_fault) {
                return Err(Error::Internal(anyhow::anyhow!("SQS SendMessageBatch refused an entry: {}", ours.code)));
            }
            pending.retain(|(id, _)| sent.failed.iter().any(|f| &f.id == id));
            if pending.is_empty() {
                return Ok(());
            }
        }
        crate::metrics::count(crate::metrics::Metric::UpstreamFaults, &[("Service", "sqs"), ("Fault", "server_error")]);
        Err(Error::Unavailable(anyhow::anyhow!("SQS SendMessageBatch kept failing {} entries", pending.len())))
    }

    /// Holds the message of `receipt_handle` back for the backoff of its `receive_count`th
    /// failed delivery: `base`, doubled on every further failure, at most 15 minutes.
    pub async fn retry_later(&self, receipt_handle: &str, receive_count: u32, base_seconds: u64) -> Result<(), Error> {
        let Some(url) = &self.url else { return Ok(()) };
        let seconds = retry_delay(receive_count, base_seconds);
        self.sqs
            .change_message_visibility()
            .queue_url(url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(i32::try_from(seconds).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| classify("SQS", "ChangeMessageVisibility", e))?;
        Ok(())
    }
}

/// `base · 2^(n-1)` seconds after the `n`th failure, at most [`MAX_RETRY_DELAY_SECONDS`].
fn retry_delay(receive_count: u32, base_seconds: u64) -> u64 {
    let doublings = receive_count.saturating_sub(1).min(20);
    base_seconds.saturating_mul(1 << doublings).min(MAX_RETRY_DELAY_SECONDS)
}

pub fn encode(notice: &LogoutNotice) -> String {
    let message = Message { client_id: notice.client_id.clone(), sub: notice.sub.clone(), sid: notice.sid.clone() };
    serde_json::to_string(&message).expect("strings serialize")
}

/// The notice in a message body; `None` for anything else.
pub fn decode(body: &str) -> Option<LogoutNotice> {
    let Message { client_id, sub, sid } = serde_json::from_str(body).ok()?;
    Some(LogoutNotice { client_id, sub, sid })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notice_round_trips_and_anything_else_is_none() {
        let notice = LogoutNotice { client_id: "web".into(), sub: "u1".into(), sid: "s1".into() };
        assert_eq!(encode(&notice), r#"{"client_id":"web","sub":"u1","sid":"s1"}"#);
        assert_eq!(decode(&encode(&notice)), Some(notice));
        assert_eq!(decode("{}"), None);
        assert_eq!(decode("logout"), None);
    }

    #[test]
    fn the_retry_delay_doubles_up_to_fifteen_minutes() {
        let delays: Vec<u64> = (1..=7).map(|n| retry_delay(n, 30)).collect();
        assert_eq!(delays, [30, 60, 120, 240, 480, 900, 900]);
        assert_eq!(retry_delay(0, 30), 30);
        assert_eq!(retry_delay(u32::MAX, 30), 900);
        assert_eq!(retry_delay(5, 0), 0);
    }
}

//! The `backchannel-logout` function: delivers the back-channel logout queue's notices
//! (OpenID Connect Back-Channel Logout 1.0; the rules are [`wxauth::oauth::backchannel`]'s).
//! A batch's notices go out at once; each failed one is reported back (`ReportBatchItemFailures`,
//! so the others are not delivered again) and held back with doubling delays, until the
//! queue's receive limit moves it to the dead-letter queue. Every attempt signs a fresh logout
//! token.

use std::sync::OnceLock;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use wxauth::App;
use wxauth::clock::unix_now;
use wxauth::metrics::{self, Metric};
use wxauth::oauth::backchannel::{Courier, Delivery};

pub async fn handle(app: &App, event: SqsEvent) -> SqsBatchResponse {
    let now = unix_now();
    let outcomes = futures_util::future::join_all(event.records.iter().map(|message| deliver(app, message, now))).await;
    let mut response = SqsBatchResponse::default();
    for (message, delivered) in event.records.iter().zip(outcomes) {
        if !delivered {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = message.message_id.clone().unwrap_or_default();
            response.batch_item_failures.push(failure);
        }
    }
    response
}

/// Whether `message` is done with: delivered, not wanted any more, or not a notice at all (a
/// message no retry can mend is logged and dropped).
async fn deliver(app: &App, message: &SqsMessage, now: i64) -> bool {
    let Some(notice) = message.body.as_deref().and_then(wxauth::queue::decode) else {
        tracing::error!(message_id = message.message_id.as_deref(), "not a logout notice: dropped");
        return true;
    };
    let outcome = match courier() {
        Ok(courier) => courier.deliver(app, &notice, now).await,
        Err(e) => Err(e),
    };
    let (label, failure) = match &outcome {
        Ok(Delivery::Delivered) => ("delivered", None),
        Ok(Delivery::NotWanted) => ("not_wanted", None),
        Ok(Delivery::Failed(why)) => ("failed", Some(why.clone())),
        // A backend fault (the client's read, the signature): the queue tries again.
        Err(e) => ("failed", Some(format!("{e:#}"))),
    };
    metrics::count(Metric::BackchannelLogouts, &[("Outcome", label)]);
    let Some(why) = failure else {
        tracing::info!(client_id = notice.client_id, outcome = label, "back-channel logout");
        return true;
    };
    let receives: u32 = message.attributes.get("ApproximateReceiveCount").and_then(|n| n.parse().ok()).unwrap_or(1);
    tracing::warn!(
        client_id = notice.client_id,
        receives,
        reason = why,
        "back-channel logout failed; the queue retries"
    );
    if let Some(receipt) = &message.receipt_handle
        && let Err(e) =
            app.logout_queue.retry_later(receipt, receives, app.config.backchannel_retry_delay.as_secs()).await
    {
        // The queue's own visibility timeout spaces the retry instead.
        tracing::warn!(error = %e, "could not hold the notice back");
    }
    false
}

/// One courier per container, its connections reused across invocations.
fn courier() -> Result<&'static Courier, wxauth::error::Error> {
    static COURIER: OnceLock<Courier> = OnceLock::new();
    if let Some(courier) = COURIER.get() {
        return Ok(courier);
    }
    let courier = Courier::new().map_err(wxauth::error::Error::Internal)?;
    Ok(COURIER.get_or_init(|| courier))
}

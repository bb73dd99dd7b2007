//! Lambda's SQS event source mapping for the back-channel logout queue, as the local server
//! runs it: receive up to ten messages, hand them to `backchannel-logout`'s handler as one
//! event, delete the ones it did not report as failed. A failed message comes back when its
//! visibility timeout ends (the handler sets it), and moves to the dead-letter queue after the
//! queue's receive limit, as on AWS.

use std::time::Duration;

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};
use wxauth::App;

/// What one poll did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Polled {
    pub received: usize,
    pub failed: usize,
}

/// One receive (waiting up to `wait` for a message) and its delivery.
pub async fn poll_once(app: &App, wait: Duration) -> anyhow::Result<Polled> {
    let Some(url) = app.logout_queue.url() else { return Ok(Polled::default()) };
    let sqs = app.logout_queue.sqs();
    let received = sqs
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .wait_time_seconds(i32::try_from(wait.as_secs()).unwrap_or(20))
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .send()
        .await?;
    let messages = received.messages.unwrap_or_default();
    if messages.is_empty() {
        return Ok(Polled::default());
    }
    let answer = backchannel_logout::handle(app, event(&messages)).await;
    let failed: Vec<&str> = answer.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
    let done: Vec<DeleteMessageBatchRequestEntry> = messages
        .iter()
        .filter(|m| !failed.contains(&m.message_id().unwrap_or_default()))
        .enumerate()
        .filter_map(|(i, m)| {
            DeleteMessageBatchRequestEntry::builder().id(i.to_string()).receipt_handle(m.receipt_handle()?).build().ok()
        })
        .collect();
    if !done.is_empty() {
        sqs.delete_message_batch().queue_url(url).set_entries(Some(done)).send().await?;
    }
    Ok(Polled { received: messages.len(), failed: failed.len() })
}

/// Polls for as long as the server runs: at once again after a batch, else a second later.
/// Short polls, not long ones: moto serves one request at a time, and a receive waiting on it
/// would hold up every other call of the stack.
pub async fn run(app: &App) {
    loop {
        match poll_once(app, Duration::ZERO).await {
            Ok(polled) if polled.received > 0 => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = format!("{e:#}"), "polling the back-channel logout queue failed"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Received messages as the event source mapping hands them to the function.
pub fn event(messages: &[aws_sdk_sqs::types::Message]) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = messages.iter().map(record).collect();
    event
}

fn record(message: &aws_sdk_sqs::types::Message) -> SqsMessage {
    let mut record = SqsMessage::default();
    record.message_id = message.message_id.clone();
    record.receipt_handle = message.receipt_handle.clone();
    record.body = message.body.clone();
    record.event_source = Some("aws:sqs".into());
    record.attributes =
        message.attributes.iter().flatten().map(|(name, value)| (name.as_str().to_string(), value.clone())).collect();
    record
}

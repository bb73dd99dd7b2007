//! The back-channel logout queue and its dead-letter queue on an emulator, shaped as
//! template.yaml shapes them on AWS: a notice that failed [`MAX_RECEIVE_COUNT`] deliveries moves
//! to the dead-letter queue, kept 14 days.

use anyhow::Context as _;
use aws_sdk_sqs::types::QueueAttributeName;

/// Deliveries of one notice before it moves to the dead-letter queue (template.yaml's
/// `maxReceiveCount`): with the function's backoff from 30 s, about an hour of retries.
pub const MAX_RECEIVE_COUNT: u32 = 8;
/// template.yaml's `VisibilityTimeout`: six times the function's timeout, as AWS advises for
/// an event source mapping.
const VISIBILITY_TIMEOUT_SECONDS: u32 = 180;
const FOURTEEN_DAYS_SECONDS: u32 = 14 * 86_400;

/// The URLs of a logout queue and of its dead-letter queue.
#[derive(Debug, Clone)]
pub struct LogoutQueues {
    pub url: String,
    pub dead_letter_url: String,
}

/// The queue `name` (and `name-dlq`), as the stack has them; its URL. Idempotent.
pub async fn ensure_logout_queue(sqs: &aws_sdk_sqs::Client, name: &str) -> anyhow::Result<String> {
    Ok(create_logout_queues(sqs, name, VISIBILITY_TIMEOUT_SECONDS, MAX_RECEIVE_COUNT).await?.url)
}

/// The queue `name` whose messages move to `name-dlq` after `max_receive_count` receives, each
/// receive hiding a message for `visibility_timeout` seconds (tests shorten both).
pub async fn create_logout_queues(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    visibility_timeout: u32,
    max_receive_count: u32,
) -> anyhow::Result<LogoutQueues> {
    let dead_letter_url = sqs
        .create_queue()
        .queue_name(format!("{name}-dlq"))
        .attributes(QueueAttributeName::MessageRetentionPeriod, FOURTEEN_DAYS_SECONDS.to_string())
        .send()
        .await
        .context("SQS CreateQueue (dead-letter queue)")?
        .queue_url
        .context("CreateQueue returned no URL")?;
    let dead_letter_arn = sqs
        .get_queue_attributes()
        .queue_url(&dead_letter_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .context("SQS GetQueueAttributes")?
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .context("the dead-letter queue has no ARN")?;
    let redrive = serde_json::json!({ "deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": max_receive_count });
    let url = sqs
        .create_queue()
        .queue_name(name)
        .attributes(QueueAttributeName::VisibilityTimeout, visibility_timeout.to_string())
        .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
        .send()
        .await
        .context("SQS CreateQueue")?
        .queue_url
        .context("CreateQueue returned no URL")?;
    Ok(LogoutQueues { url, dead_letter_url })
}

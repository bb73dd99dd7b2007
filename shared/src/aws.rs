//! What is shared by our uses of the AWS SDK: loading its configuration, and telling a backend
//! fault from our own mistake.

use std::time::Duration;

// The SDK crates re-export one `SdkError` and one `ProvideErrorMetadata`: these serve KMS too.
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

use crate::config::AwsTimeouts;
use crate::error::Error;

/// The SDK's configuration from the standard sources (`AWS_REGION`, `AWS_ENDPOINT_URL`,
/// credentials chain), with our [`AwsTimeouts`].
pub async fn sdk_config(timeouts: AwsTimeouts) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest()).timeout_config(timeout_config(timeouts)).load().await
}

fn timeout_config(timeouts: AwsTimeouts) -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(timeouts.attempt.min(Duration::from_secs(1)))
        .operation_attempt_timeout(timeouts.attempt)
        .operation_timeout(timeouts.call)
        .build()
}

/// Maps an SDK failure: throttling, timeouts, dispatch failures and 5xx are `Unavailable` (the
/// SDK has already retried them with backoff); anything else means our request was wrong, or a
/// key or table is missing: `Internal`.
pub(crate) fn classify<E>(service: &'static str, operation: &'static str, err: SdkError<E, HttpResponse>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let transient = match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => true,
        SdkError::ServiceError(service_err) => is_transient_service_error(
            service_err.raw().status().as_u16(),
            service_err.err().code().unwrap_or_default(),
        ),
        _ => false,
    };
    let fault = fault_kind(&err, transient);
    crate::metrics::count(
        crate::metrics::Metric::UpstreamFaults,
        &[("Service", metric_service(service)), ("Fault", fault)],
    );
    let cause = anyhow::Error::new(err).context(format!("{service} {operation}"));
    if transient { Error::Unavailable(cause) } else { Error::Internal(cause) }
}

/// How an SDK call failed, as the `Fault` of the `UpstreamFaults` metric: what an operator
/// acts on differently (throttling wants a quota, timeouts and 5xx an incident, a rejection a
/// fix of ours).
fn fault_kind<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>, transient: bool) -> &'static str {
    match err {
        SdkError::TimeoutError(_) => "timeout",
        SdkError::DispatchFailure(_) => "unreachable",
        SdkError::ServiceError(e) if is_throttling(e.err().code().unwrap_or_default()) => "throttled",
        _ if transient => "server_error",
        _ => "rejected",
    }
}

fn is_throttling(code: &str) -> bool {
    code.contains("Throttl")
        || matches!(code, "ProvisionedThroughputExceededException" | "RequestLimitExceeded" | "LimitExceededException")
}

/// The `Service` dimension of the names callers give (`DynamoDB`, `KMS`).
fn metric_service(service: &'static str) -> &'static str {
    match service {
        "DynamoDB" => "dynamodb",
        "KMS" => "kms",
        other => other,
    }
}

/// A 5xx is the service's fault whatever its body says (an overloaded front end may not even
/// answer JSON); so is a 2xx that the SDK could not read (a truncated or garbled body: the SDK
/// reports it as a service error without a code). Among 4xx, throttling and quota codes are
/// worth a retry.
fn is_transient_service_error(status: u16, code: &str) -> bool {
    (500..600).contains(&status)
        || (200..300).contains(&status)
        || is_throttling(code)
        || matches!(
            code,
            "InternalServerError"
                | "InternalFailure"
                | "ServiceUnavailable"
                | "KMSInternalException"
                | "DependencyTimeoutException"
                | "KeyUnavailableException"
                // A plain write that met an item in a transaction in flight (the SDK does not
                // retry this one); the transaction is over in milliseconds.
                | "TransactionConflictException"
                | "TransactionInProgressException"
        )
}

/// Whether a plain (non-transactional) write was refused because a transaction in flight holds
/// its item: worth trying again at once, unlike a lost condition.
pub(crate) fn is_transaction_conflict<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    err.as_service_error().and_then(|e| e.code()) == Some("TransactionConflictException")
}

/// Whether a conditional write or transaction lost on a condition (a race, or a rule such as
/// single use), as opposed to a fault.
pub(crate) fn is_condition_failure<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    matches!(
        err.as_service_error().and_then(|e| e.code()),
        Some("ConditionalCheckFailedException" | "TransactionCanceledException")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_and_internal_failures_are_transient() {
        for code in ["ThrottlingException", "ProvisionedThroughputExceededException", "KMSInternalException"] {
            assert!(is_transient_service_error(400, code), "{code}");
        }
        for code in ["ValidationException", "ResourceNotFoundException", "NotFoundException", "AccessDeniedException"] {
            assert!(!is_transient_service_error(400, code), "{code}");
        }
    }

    #[test]
    fn any_5xx_is_transient_even_without_an_error_code() {
        // moto answered a crash with an HTML 500: that became a 500 to our clients.
        assert!(is_transient_service_error(500, ""));
        assert!(is_transient_service_error(503, "ServiceUnavailable"));
    }

    #[test]
    fn a_write_that_meets_a_transaction_in_flight_is_transient() {
        assert!(is_transient_service_error(400, "TransactionConflictException"));
        assert!(is_transient_service_error(400, "TransactionInProgressException"));
        assert!(!is_transient_service_error(400, "ConditionalCheckFailedException"), "a lost condition is not");
    }

    #[test]
    fn an_unreadable_success_answer_is_transient() {
        // A 200 whose body was truncated: a 500 with "unexpected server error" before.
        assert!(is_transient_service_error(200, ""));
        assert!(!is_transient_service_error(400, ""), "an unreadable 4xx stays our problem");
    }
}

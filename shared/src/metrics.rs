//! Operational metrics, written as CloudWatch embedded metric format (EMF) lines.
//!
//! Lambda sends a function's stdout to CloudWatch Logs, which turns every EMF line into metric
//! data points: no `PutMetricData` call, no latency, no IAM. Each event is one line in namespace
//! [`NAMESPACE`], recorded under up to three dimension sets: the metric's own dimensions (summed
//! over the functions: `UpstreamFaults` by `Service` and `Fault`, which alarms watch), the same
//! with `Function` (the package name, not the deployed function's generated name), and none at
//! all (the metric's total, for rate alarms such as WeChat errors per call).
//!
//! Dimension values are fixed codes (a grant, an OAuth error code, a WeChat errcode, a service),
//! never an id, token, code or anything else a client chose: each value multiplies the metrics
//! CloudWatch bills, and the log line must hold no secret.
//!
//! Nothing is written until [`enable`] (a function's `main` calls it): the local server and the
//! tests stay quiet.

use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::OnceLock;

pub const NAMESPACE: &str = "wxauth";

/// What is counted or measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// An access token issued; dimensions `Grant` and `ClientKind`.
    TokensIssued,
    /// An error answered with an OAuth error body; dimension `Error` (its code).
    OAuthErrors,
    /// A rotated refresh token presented again: its family revoked.
    RefreshTokenReuse,
    /// A used authorization code presented again by its client: what it issued revoked.
    CodeReplay,
    /// A username locked after repeated wrong passwords.
    PasswordLockouts,
    /// A call to the WeChat server API; dimension `Api`.
    WechatCalls,
    /// WeChat answered an error; dimensions `Api` and `Errcode`.
    WechatErrors,
    /// DynamoDB, KMS or WeChat failed us; dimensions `Service` and `Fault`.
    UpstreamFaults,
    /// A back-channel logout notice handled; dimension `Outcome`: `delivered`, `failed` (to be
    /// retried, or in the dead-letter queue once the queue's receive limit is reached) or
    /// `not_wanted` (the client was deleted or no longer registers a back-channel URI).
    BackchannelLogouts,
    /// A unionid arrived for a user while another user holds it: nothing merged (security).
    UnionidConflicts,
    /// The mini program answered a scan sign-in ticket; dimension `Outcome`: `approved`,
    /// `denied`, or `other_user` (a second user scanned a ticket bound to the first: someone
    /// else's screen, or a shared code).
    ScanAnswers,
    /// A user code entered at `/device` that no waiting device holds (mistyped, expired,
    /// answered, or guessed): a steady stream is someone guessing codes.
    UserCodeMisses,
    /// An invocation's time in the handler.
    Latency,
}

impl Metric {
    pub fn name(self) -> &'static str {
        match self {
            Metric::TokensIssued => "TokensIssued",
            Metric::UnionidConflicts => "UnionidConflicts",
            Metric::OAuthErrors => "OAuthErrors",
            Metric::RefreshTokenReuse => "RefreshTokenReuse",
            Metric::CodeReplay => "CodeReplay",
            Metric::PasswordLockouts => "PasswordLockouts",
            Metric::WechatCalls => "WechatCalls",
            Metric::WechatErrors => "WechatErrors",
            Metric::UpstreamFaults => "UpstreamFaults",
            Metric::BackchannelLogouts => "BackchannelLogouts",
            Metric::ScanAnswers => "ScanAnswers",
            Metric::UserCodeMisses => "UserCodeMisses",
            Metric::Latency => "Latency",
        }
    }

    pub fn unit(self) -> &'static str {
        match self {
            Metric::Latency => "Milliseconds",
            _ => "Count",
        }
    }
}

static FUNCTION: OnceLock<&'static str> = OnceLock::new();

tokio::task_local! {
    /// The Lambda request id of the invocation being served (`crate::lambda`): every metric line
    /// carries it, as every log line does, to find the request behind a data point.
    pub static REQUEST_ID: String;
}

/// From now on, metrics are written to stdout, each line naming `function`.
pub fn enable(function: &'static str) {
    let _ = FUNCTION.set(function);
}

/// Counts one `metric` event.
pub fn count(metric: Metric, dimensions: &[(&'static str, &str)]) {
    record(metric, 1.0, dimensions);
}

/// Records `value` (in the metric's unit).
pub fn record(metric: Metric, value: f64, dimensions: &[(&'static str, &str)]) {
    let Some(function) = FUNCTION.get() else { return };
    let request_id = REQUEST_ID.try_with(String::clone).ok();
    let line = emf_line(function, request_id.as_deref(), metric, value, dimensions, crate::clock::unix_now_millis());
    // One write per line, so that lines of concurrent tasks do not interleave.
    let _ = std::io::stdout().lock().write_all(line.as_bytes());
}

/// One EMF document on one line (newline included).
fn emf_line(
    function: &str,
    request_id: Option<&str>,
    metric: Metric,
    value: f64,
    dimensions: &[(&'static str, &str)],
    timestamp_ms: u64,
) -> String {
    let own: Vec<&str> = dimensions.iter().map(|(name, _)| *name).collect();
    let with_function: Vec<&str> = std::iter::once("Function").chain(own.iter().copied()).collect();
    let mut sets = vec![own, with_function];
    if !dimensions.is_empty() {
        sets.push(Vec::new());
    }
    let mut document = serde_json::json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": sets,
                "Metrics": [{ "Name": metric.name(), "Unit": metric.unit() }],
            }],
        },
        "Function": function,
        (metric.name()): value,
    });
    for (name, dimension_value) in dimensions {
        document[*name] = serde_json::Value::from(*dimension_value);
    }
    if let Some(id) = request_id {
        // A property, not a dimension: searchable in the log, no metric of its own.
        document["requestId"] = serde_json::Value::from(id);
    }
    let mut line = document.to_string();
    let _ = writeln!(line);
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn parse(line: &str) -> Value {
        assert!(line.ends_with('\n') && !line.trim_end().contains('\n'), "one line: {line:?}");
        serde_json::from_str(line).expect("json")
    }

    #[test]
    fn a_count_is_one_emf_document_with_its_dimension_sets() {
        let line = emf_line(
            "token",
            Some("req-1"),
            Metric::TokensIssued,
            1.0,
            &[("Grant", "wechat"), ("ClientKind", "miniprogram")],
            42,
        );
        let doc = parse(&line);
        assert_eq!(
            doc["_aws"],
            json!({
                "Timestamp": 42,
                "CloudWatchMetrics": [{
                    "Namespace": "wxauth",
                    "Dimensions": [["Grant", "ClientKind"], ["Function", "Grant", "ClientKind"], []],
                    "Metrics": [{ "Name": "TokensIssued", "Unit": "Count" }],
                }],
            })
        );
        assert_eq!((doc["Function"].as_str(), doc["Grant"].as_str()), (Some("token"), Some("wechat")));
        assert_eq!(doc["ClientKind"], "miniprogram");
        assert_eq!(doc["TokensIssued"], 1.0);
        assert_eq!(doc["requestId"], "req-1", "a property, outside the directive");
    }

    #[test]
    fn a_metric_without_dimensions_is_also_summed_over_functions() {
        let doc = parse(&emf_line("token", None, Metric::RefreshTokenReuse, 1.0, &[], 0));
        assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"], json!([[], ["Function"]]));
    }

    #[test]
    fn latency_is_in_milliseconds() {
        let doc = parse(&emf_line("jwks", None, Metric::Latency, 3.5, &[], 0));
        assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"], "Milliseconds");
        assert_eq!(doc["Latency"], 3.5);
    }
}

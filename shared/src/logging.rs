//! Logging for the functions and the local server: JSON or text, with levels that never print
//! what the HTTP and AWS stacks see at trace (whole requests, with their tokens and secrets).

/// Logging for a function's `main`: JSON or text as the function is configured
/// (`AWS_LAMBDA_LOG_FORMAT`), the level from `RUST_LOG` or `AWS_LAMBDA_LOG_LEVEL` (default
/// info). At a plain level such as `debug` or `trace`, the runtime and the HTTP and AWS stacks
/// stay at info: at trace they print whole events and requests, with their tokens and secrets.
pub fn init_logging() {
    let level = std::env::var("RUST_LOG")
        .or_else(|_| std::env::var("AWS_LAMBDA_LOG_LEVEL"))
        .unwrap_or_else(|_| "info".into())
        .to_lowercase();
    let filter = tracing_subscriber::EnvFilter::new(format!("{level},{QUIET_TARGETS}"));
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false).without_time();
    if json {
        builder.json().with_current_span(false).init();
    } else {
        builder.with_ansi(false).init();
    }
}

/// Targets capped at info whatever level is asked for (see [`init_logging`]).
pub const QUIET_TARGETS: &str = "lambda_runtime=info,lambda_http=info,hyper=info,hyper_util=info,h2=info,reqwest=info,rustls=info,aws_smithy_runtime=info,aws_smithy_runtime_api=info,aws_smithy_http=info,aws_sigv4=info,aws_config=info";

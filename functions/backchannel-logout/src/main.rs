//! The `backchannel-logout` Lambda function: fed by the back-channel logout queue (an SQS event
//! source mapping with `ReportBatchItemFailures`); builds the app once per cold start.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    wxauth::lambda::serve_queue(env!("CARGO_PKG_NAME"), wxauth::lambda::Warm::SigningKey, backchannel_logout::handle)
        .await
}

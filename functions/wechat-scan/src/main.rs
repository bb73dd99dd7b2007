//! The `wechat-scan` Lambda function: builds the app once per cold start, then serves requests,
//! each answered before the invocation's deadline (`wxauth::deadline`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    wxauth::lambda::serve(env!("CARGO_PKG_NAME"), wxauth::lambda::Warm::KeyRegistry, wechat_scan::handle).await
}

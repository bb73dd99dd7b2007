//! The `device-authorization` Lambda function: builds the app once per cold start, then serves
//! requests, each answered before the invocation's deadline (`wxauth::deadline`). Nothing to warm:
//! it signs and verifies nothing, so it needs no signing-key registry (nor the right to read it).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    wxauth::lambda::serve(env!("CARGO_PKG_NAME"), wxauth::lambda::Warm::Nothing, device_authorization::handle).await
}

//! The `metadata` Lambda function: builds the app once per cold start, then serves requests,
//! each answered before the invocation's deadline (`wxauth::deadline`).

use lambda_http::{Error, Request, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    wxauth::init_logging();
    let app: &'static wxauth::App = Box::leak(Box::new(wxauth::App::from_env().await?));
    let handle = |req: Request| async move {
        Ok::<_, Error>(wxauth::deadline::within(req, |req| metadata::handle(app, req)).await)
    };
    run(service_fn(handle)).await
}

//! The `revoke` Lambda function: builds the app once per cold start, then serves requests.

use lambda_http::{Error, Request, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    wxauth::init_logging();
    let app: &'static wxauth::App = Box::leak(Box::new(wxauth::App::from_env().await?));
    run(service_fn(move |req: Request| async move { Ok::<_, Error>(revoke::handle(app, req).await) })).await
}

//! The local server: every route of `template.yaml` on one port (`PORT`, default 3000), calling
//! the same `handle` functions as the Lambda binaries. For development and tests, not production.

use std::sync::Arc;

use anyhow::Context as _;
use wxauth_local::{event_source, front, routes};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(format!(
            "{},{}",
            std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
            wxauth::logging::QUIET_TARGETS
        )))
        .init();
    let app = Arc::new(wxauth::App::from_env().await?);
    let port: u16 = std::env::var("PORT")
        .ok()
        .filter(|p| !p.is_empty())
        .map(|p| p.parse())
        .transpose()
        .context("PORT")?
        .unwrap_or(3000);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("binding 127.0.0.1:{port}"))?;
    let address = listener.local_addr()?;
    println!("wxauth local server listening on http://{address}");
    let polled = app.clone();
    tokio::spawn(async move { event_source::run(&polled).await });
    let router = routes::router(app);
    let shutdown = tokio::signal::ctrl_c();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                tokio::spawn(front::serve(stream, router.clone()));
            }
            _ = &mut shutdown => return Ok(()),
        }
    }
}

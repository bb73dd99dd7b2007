//! `mock-wechat`: serves the WeChat stand-in described in the library docs.

use std::io::Write as _;

use anyhow::Context as _;
use mock_wechat::fixtures::Fixtures;
use mock_wechat::routes::{AppState, now_ms, router};
use mock_wechat::state::{Mock, random_seed};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let port = match std::env::var("MOCK_WECHAT_PORT") {
        Ok(port) if !port.is_empty() => port.parse::<u16>().context("MOCK_WECHAT_PORT must be a port number")?,
        _ => 3100,
    };
    let mut mock = Mock::new(random_seed());
    if let Some(path) = std::env::var_os("MOCK_WECHAT_FIXTURES").filter(|p| !p.is_empty()) {
        Fixtures::load(path.as_ref())?.apply(&mut mock, now_ms());
    }

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("cannot bind 127.0.0.1:{port}"))?;
    let port = listener.local_addr()?.port();
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "mock-wechat listening on http://127.0.0.1:{port}")?;
    stdout.flush()?;
    drop(stdout);

    axum::serve(listener, router(AppState::new(mock)))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

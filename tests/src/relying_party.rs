//! A relying party's back-channel logout endpoint for the tests: it records every logout token
//! POSTed to it and answers with the statuses a test scripts (then 200).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::StatusCode;

#[derive(Default)]
struct Shared {
    tokens: Mutex<Vec<String>>,
    script: Mutex<VecDeque<u16>>,
}

/// The endpoint; it stops when dropped.
pub struct RelyingParty {
    pub url: String,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl RelyingParty {
    pub async fn start() -> Self {
        let shared = Arc::new(Shared::default());
        let router =
            axum::Router::new().route("/backchannel-logout", axum::routing::post(receive)).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/backchannel-logout", listener.local_addr().expect("address"));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self { url, shared, server }
    }

    /// The next answers, in order; 200 after them.
    pub fn answer(&self, statuses: &[u16]) {
        self.shared.script.lock().expect("lock").extend(statuses);
    }

    /// The logout tokens received so far, in order.
    pub fn tokens(&self) -> Vec<String> {
        self.shared.tokens.lock().expect("lock").clone()
    }
}

impl Drop for RelyingParty {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn receive(State(shared): State<Arc<Shared>>, form: axum::extract::Form<Vec<(String, String)>>) -> StatusCode {
    let token = form.0.into_iter().find(|(name, _)| name == "logout_token").map(|(_, value)| value);
    shared.tokens.lock().expect("lock").push(token.unwrap_or_default());
    let status = shared.script.lock().expect("lock").pop_front().unwrap_or(200);
    StatusCode::from_u16(status).expect("a status")
}

//! Cold starts of the shipped binaries, measured as Lambda would see them (`scripts/coldstart`).
//!
//! For each function of template.yaml (or those named in `FUNCTIONS`), `RUNS` times (default 5): start its release `bootstrap`
//! against a Runtime API of ours (its template environment and memory size, moto and the mock
//! WeChat behind it), then measure
//! - init: from exec to its first `GET /runtime/invocation/next`;
//! - first: its first invocation, from the event handed out to the answer;
//! - warm: the median of `WARM` (default 20) invocations after it;
//! - peak RSS (`VmHWM`) after them.
//!
//! and print the medians over the runs as a Markdown table. Every invocation is a real request
//! of that route (a login with a fresh code, a page, a userinfo call, ...), checked to succeed.

use std::time::Duration;

use serde_json::{Value, json};
use wxauth::domain::scan::{RequestedFrom, ScanStatus, ScanTicket, Ticket};
use wxauth::scope::Scope;
use wxauth::secret::hash;
use wxauth_tests::lambda::{Deployment, FORM, event, form};
use wxauth_tests::runtime_api::{Deadline, Outcome};
use wxauth_tests::scan::SCAN_PAGE;
use wxauth_tests::{WECHAT_GRANT, encrypted_profile, mock_session_key, template};

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// What a user and a service need for the protected routes.
struct Callers {
    bearer: String,
    session_name: String,
    service_token: String,
    /// A client whose back-channel logout URI is a relying party of this harness.
    backchannel_client: String,
    /// Live scan tickets, one per invocation of wechat-scan (`run * (WARM + 1) + n`).
    scan_tickets: Vec<String>,
    warm_count: usize,
}

/// The `n`th request of `binary`'s route.
fn request(deployment: &Deployment, callers: &Callers, binary: &str, run: usize, n: usize) -> Value {
    let auth = ("authorization", callers.bearer.as_str());
    let json_type = ("content-type", "application/json");
    match binary {
        "token" => {
            let code = format!("ok-cold-{run}-{n}");
            let body = form(&[("grant_type", WECHAT_GRANT), ("client_id", "demo-miniprogram"), ("code", &code)]);
            event("POST", "/oauth/token", &[FORM], Some(&body))
        }
        "authorize" => {
            let query = form(&[
                ("response_type", "code"),
                ("client_id", "demo-web"),
                ("redirect_uri", "http://127.0.0.1:3000/demo/callback"),
                ("scope", "openid"),
                ("code_challenge", wxauth_tests::PKCE_CHALLENGE),
                ("code_challenge_method", "S256"),
            ]);
            event("GET", &format!("/oauth/authorize?{query}"), &[], None)
        }
        "device-authorization" => {
            let body = form(&[("client_id", "demo-device"), ("scope", "openid")]);
            event("POST", "/oauth/device_authorization", &[FORM], Some(&body))
        }
        "revoke" => {
            let body = form(&[("token", "unknown-token"), ("client_id", "demo-miniprogram")]);
            event("POST", "/oauth/revoke", &[FORM], Some(&body))
        }
        "introspect" => {
            let basic = deployment.basic();
            let body = form(&[("token", &callers.service_token)]);
            event("POST", "/oauth/introspect", &[FORM, ("authorization", &basic)], Some(&body))
        }
        "jwks" => event("GET", "/.well-known/jwks.json", &[], None),
        "metadata" => event("GET", "/.well-known/openid-configuration", &[], None),
        "userinfo" => event("GET", "/userinfo", &[auth], None),
        "wechat-session" => event("GET", "/wechat/session", &[auth], None),
        "wechat-decrypt" => {
            let body = encrypted_profile(&mock_session_key(&callers.session_name), &deployment.appid, "Amy");
            event("POST", "/wechat/decrypt", &[auth, json_type], Some(&body.to_string()))
        }
        "wechat-phone" => {
            let body = format!(r#"{{"code":"phone-1380{run:03}{n:04}"}}"#);
            event("POST", "/wechat/phone", &[auth, json_type], Some(&body))
        }
        "wechat-scan" => {
            let scene = &callers.scan_tickets[run * (callers.warm_count + 1) + n];
            let body = json!({"scene": scene, "action": "scanned"}).to_string();
            event("POST", "/wechat/scan", &[auth, json_type], Some(&body))
        }
        "end-session" => event("GET", "/oauth/end_session?client_id=demo-web&state=cold", &[], None),
        "backchannel-logout" => {
            let notice =
                json!({"client_id": callers.backchannel_client, "sub": "cold-user", "sid": format!("s-{run}-{n}")});
            json!({"Records": [{"messageId": format!("m-{run}-{n}"), "receiptHandle": "cold", "body": notice.to_string(),
                                "attributes": {"ApproximateReceiveCount": "1"}, "eventSource": "aws:sqs"}]})
        }
        other => panic!("no request for {other}: add one"),
    }
}

/// What a function needs beyond the template's defaults to answer its route.
fn configure(binary: &str, env: &mut Vec<(String, String)>) {
    if binary == "wechat-scan" {
        // As scripts/stack.sh offers scan sign-in through demo-miniprogram.
        env.push(("SCAN_LOGIN_CLIENT".into(), "demo-miniprogram".into()));
        env.push(("SCAN_LOGIN_PAGE".into(), SCAN_PAGE.into()));
    }
}

/// `count` tickets shown on a desktop sign-in page, as the authorize function stores them.
async fn scan_tickets(deployment: &Deployment, count: usize) -> Vec<String> {
    let now = wxauth::clock::unix_now();
    let mut tickets = Vec::with_capacity(count);
    for _ in 0..count {
        let ticket = Ticket::new();
        let stored = ScanTicket {
            hash: hash(ticket.as_str()),
            request_hash: hash("cold-request"),
            browser_hash: hash("cold-browser"),
            client_id: "demo-web".into(),
            client_name: "Demo web app".into(),
            scope: Scope::parse("openid profile").expect("scope"),
            requested_from: RequestedFrom::default(),
            status: ScanStatus::Pending,
            scanner: None,
            used: false,
            expires_at: now + 3600, // however long the runs before wechat-scan take
        };
        deployment.env.app.store.put_scan_ticket(&stored).await.expect("a ticket");
        tickets.push(ticket.as_str().to_string());
    }
    tickets
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let runs = setting("RUNS", 5);
    let warm_count = setting("WARM", 20);
    let deployment = Deployment::new().await;
    let session_name = "cold-user".to_string();
    let login = deployment
        .env
        .token(&[
            ("grant_type", WECHAT_GRANT),
            ("client_id", "demo-miniprogram"),
            ("code", &format!("ok-{session_name}")),
        ])
        .await;
    assert_eq!(login.status, 200, "{}", login.json);
    let basic = deployment.basic();
    let mut service = wxauth_tests::form_request("/oauth/token", &[("grant_type", "client_credentials")]);
    service.headers_mut().insert("authorization", basic.parse().expect("header"));
    let service = deployment.env.token_request(service).await;
    assert_eq!(service.status, 200, "{}", service.json);
    let relying_party = wxauth_tests::relying_party::RelyingParty::start().await;
    let only = std::env::var("FUNCTIONS").unwrap_or_default();
    let wanted = |binary: &str| only.is_empty() || only.split_whitespace().any(|f| f == binary);
    let callers = Callers {
        bearer: format!("Bearer {}", login.str("access_token")),
        session_name,
        service_token: service.str("access_token").to_string(),
        backchannel_client: deployment.env.web_client_with_backchannel(&relying_party.url).await,
        scan_tickets: if wanted("wechat-scan") {
            scan_tickets(&deployment, runs * (warm_count + 1)).await
        } else {
            vec![]
        },
        warm_count,
    };

    println!("| function | memory | init (ms) | first invocation (ms) | warm invocation (ms) | peak RSS (MB) |");
    println!("|---|---:|---:|---:|---:|---:|");
    for function in template::functions().into_iter().filter(|f| wanted(&f.binary)) {
        let (mut inits, mut firsts, mut warms, mut rss) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for run in 0..runs {
            let instance = deployment.start(&function.binary, |env| configure(&function.binary, env)).await;
            let deadline = Deadline::After(instance.timeout());
            let invoke = |n: usize| {
                let event = request(&deployment, &callers, &function.binary, run, n);
                instance.api.invoke_timed(event, deadline.clone())
            };
            let (outcome, first) = invoke(0).await;
            check(&function.binary, &outcome);
            let init = instance.api.first_poll().expect("it polled") - instance.process.started;
            let mut warm = Vec::new();
            for n in 1..=warm_count {
                let (outcome, took) = invoke(n).await;
                check(&function.binary, &outcome);
                warm.push(ms(took));
            }
            inits.push(ms(init));
            firsts.push(ms(first));
            warms.push(median(warm));
            rss.push(instance.process.peak_rss_kib() as f64 / 1024.0);
        }
        println!(
            "| {} | {} MB | {:.1} | {:.1} | {:.2} | {:.1} |",
            function.binary,
            function.memory_mb,
            median(inits),
            median(firsts),
            median(warms),
            median(rss)
        );
    }
}

fn check(binary: &str, outcome: &Outcome) {
    if let Outcome::Response(batch) = outcome
        && batch.get("batchItemFailures").is_some()
    {
        assert_eq!(batch["batchItemFailures"], json!([]), "{binary}: a notice was not delivered");
        return;
    }
    let answer = outcome.http();
    assert!(answer.status < 400, "{binary} answered {}: {}", answer.status, answer.body);
}

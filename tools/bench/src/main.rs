//! `wxauth-bench`: drives the token endpoint of a running wxauth (the local server of
//! `scripts/bench`) at a fixed concurrency for a bounded number of requests, and prints
//! throughput and latency percentiles. Loopback only by design: it is for measuring our code.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::{Parser, ValueEnum};

#[derive(Parser)]
struct Cli {
    /// The server's base URL (loopback).
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    url: String,
    /// A mini-program client id on that server.
    #[arg(long, default_value = "demo-miniprogram")]
    client_id: String,
    #[arg(long, value_enum)]
    scenario: Scenario,
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Requests measured, in all.
    #[arg(long, default_value_t = 2000)]
    requests: usize,
    /// Makes this run's mock WeChat codes unique.
    #[arg(long, default_value = "run")]
    tag: String,
}

#[derive(Clone, Copy, ValueEnum)]
enum Scenario {
    /// Every request a first login: a new user each time.
    LoginNew,
    /// Logins of users seen before (same openid, new session key).
    LoginReturning,
    /// Refresh-token rotation: each worker refreshes its own token chain.
    Refresh,
}

const WECHAT_GRANT: &str = "urn:wxauth:grant-type:wechat-code";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let host = cli.url.trim_start_matches("http://").split([':', '/']).next().unwrap_or_default();
    if !(host == "localhost" || host.starts_with("127.") || host == "[::1]") {
        bail!("wxauth-bench only targets loopback addresses");
    }
    let http = reqwest::Client::new();
    let per_worker = cli.requests.div_ceil(cli.concurrency);
    let started = Instant::now();
    let workers: Vec<_> = (0..cli.concurrency)
        .map(|w| {
            let (http, cli_url, client_id, tag) =
                (http.clone(), cli.url.clone(), cli.client_id.clone(), cli.tag.clone());
            let scenario = cli.scenario;
            tokio::spawn(async move { worker(&http, &cli_url, &client_id, &tag, scenario, w, per_worker).await })
        })
        .collect();
    let mut latencies = Vec::new();
    for w in workers {
        latencies.extend(w.await??);
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let pct =
        |p: f64| latencies[((latencies.len() as f64 * p).ceil() as usize).saturating_sub(1).min(latencies.len() - 1)];
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{:?}: {} requests, concurrency {}, {:.1} s, {:.0} req/s, p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        cli.scenario_name(),
        latencies.len(),
        cli.concurrency,
        elapsed.as_secs_f64(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        ms(pct(0.50)),
        ms(pct(0.90)),
        ms(pct(0.99)),
        ms(latencies[latencies.len() - 1]),
    );
    Ok(())
}

impl Cli {
    fn scenario_name(&self) -> &'static str {
        match self.scenario {
            Scenario::LoginNew => "login-new",
            Scenario::LoginReturning => "login-returning",
            Scenario::Refresh => "refresh",
        }
    }
}

async fn worker(
    http: &reqwest::Client,
    url: &str,
    client_id: &str,
    tag: &str,
    scenario: Scenario,
    w: usize,
    n: usize,
) -> anyhow::Result<Vec<Duration>> {
    let token_url = format!("{url}/oauth/token");
    let login = |code: String| {
        let form = vec![("grant_type", WECHAT_GRANT.to_string()), ("client_id", client_id.to_string()), ("code", code)];
        post(http, &token_url, form)
    };
    let mut latencies = Vec::with_capacity(n);
    let mut refresh_token = match scenario {
        Scenario::Refresh => Some(login(format!("ok-{tag}-w{w}")).await?.1),
        Scenario::LoginReturning => {
            login(format!("ok-{tag}-w{w}")).await?; // the user exists before measuring
            None
        }
        Scenario::LoginNew => None,
    };
    for i in 0..n {
        let started = Instant::now();
        let (_, body) = match scenario {
            Scenario::LoginNew => login(format!("ok-{tag}-w{w}-{i}")).await?,
            Scenario::LoginReturning => login(format!("ok-{tag}-w{w}~{i}")).await?,
            Scenario::Refresh => {
                let form = vec![
                    ("grant_type", "refresh_token".to_string()),
                    ("client_id", client_id.to_string()),
                    ("refresh_token", refresh_token.take().context("a refresh token")?),
                ];
                post(http, &token_url, form).await?
            }
        };
        latencies.push(started.elapsed());
        if matches!(scenario, Scenario::Refresh) {
            refresh_token = Some(body);
        }
    }
    Ok(latencies)
}

/// POSTs a form; fails on anything but 200. Returns the status and the refresh token.
async fn post(http: &reqwest::Client, url: &str, form: Vec<(&str, String)>) -> anyhow::Result<(u16, String)> {
    let res = http.post(url).form(&form).send().await?;
    let status = res.status().as_u16();
    let body: serde_json::Value = res.json().await?;
    if status != 200 {
        bail!("HTTP {status}: {body}");
    }
    Ok((status, body["refresh_token"].as_str().unwrap_or_default().to_string()))
}

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
    /// The client: a mini program for the login and refresh scenarios, a confidential client
    /// for client-credentials.
    #[arg(long, default_value = "demo-miniprogram")]
    client_id: String,
    /// The confidential client's secret (client-credentials).
    #[arg(long, env = "DEMO_SERVICE_SECRET", hide_env_values = true, default_value = "")]
    client_secret: String,
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

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Scenario {
    /// Every request a first login: a new user each time.
    LoginNew,
    /// Logins of users seen before (same openid, new session key).
    LoginReturning,
    /// Refresh-token rotation: each worker refreshes its own token chain.
    Refresh,
    /// A confidential client's service token (HTTP Basic, no refresh token).
    ClientCredentials,
}

const WECHAT_GRANT: &str = "urn:wxauth:grant-type:wechat-code";

/// One worker's view of the run.
#[derive(Clone)]
struct Target {
    http: reqwest::Client,
    token_url: String,
    client_id: String,
    client_secret: String,
    tag: String,
    scenario: Scenario,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let host = cli.url.trim_start_matches("http://").split([':', '/']).next().unwrap_or_default();
    if !(host == "localhost" || host.starts_with("127.") || host == "[::1]") {
        bail!("wxauth-bench only targets loopback addresses");
    }
    let target = Target {
        http: reqwest::Client::new(),
        token_url: format!("{}/oauth/token", cli.url),
        client_id: cli.client_id.clone(),
        client_secret: cli.client_secret.clone(),
        tag: cli.tag.clone(),
        scenario: cli.scenario,
    };
    let per_worker = cli.requests.div_ceil(cli.concurrency);
    let started = Instant::now();
    let workers: Vec<_> = (0..cli.concurrency)
        .map(|w| {
            let target = target.clone();
            tokio::spawn(async move { target.run(w, per_worker).await })
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
        "{}: {} requests, concurrency {}, {:.1} s, {:.0} req/s, p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        cli.scenario.to_possible_value().map(|v| v.get_name().to_string()).unwrap_or_default(),
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

impl Target {
    /// Worker `w`: its setup (not measured), then `n` measured requests.
    async fn run(&self, w: usize, n: usize) -> anyhow::Result<Vec<Duration>> {
        let tag = &self.tag;
        let mut refresh_token = match self.scenario {
            Scenario::Refresh => Some(self.login(format!("ok-{tag}-w{w}")).await?),
            Scenario::LoginReturning => {
                self.login(format!("ok-{tag}-w{w}")).await?; // the user exists before measuring
                None
            }
            Scenario::LoginNew | Scenario::ClientCredentials => None,
        };
        let mut latencies = Vec::with_capacity(n);
        for i in 0..n {
            let started = Instant::now();
            match self.scenario {
                Scenario::LoginNew => drop(self.login(format!("ok-{tag}-w{w}-{i}")).await?),
                Scenario::LoginReturning => drop(self.login(format!("ok-{tag}-w{w}~{i}")).await?),
                Scenario::Refresh => {
                    let token = refresh_token.take().context("a refresh token")?;
                    let form =
                        [("grant_type", "refresh_token"), ("client_id", &self.client_id), ("refresh_token", &token)];
                    refresh_token = Some(post(self.http.post(&self.token_url).form(&form)).await?);
                }
                Scenario::ClientCredentials => {
                    let request =
                        self.http.post(&self.token_url).basic_auth(&self.client_id, Some(&self.client_secret));
                    post(request.form(&[("grant_type", "client_credentials")])).await?;
                }
            }
            latencies.push(started.elapsed());
        }
        Ok(latencies)
    }

    /// A WeChat login; returns the refresh token.
    async fn login(&self, code: String) -> anyhow::Result<String> {
        let form = [("grant_type", WECHAT_GRANT), ("client_id", &self.client_id), ("code", &code)];
        post(self.http.post(&self.token_url).form(&form)).await
    }
}

/// Sends a token request; fails on anything but 200. Returns the refresh token, if any.
async fn post(request: reqwest::RequestBuilder) -> anyhow::Result<String> {
    let res = request.send().await?;
    let status = res.status().as_u16();
    let body: serde_json::Value = res.json().await?;
    if status != 200 {
        bail!("HTTP {status}: {body}");
    }
    Ok(body["refresh_token"].as_str().unwrap_or_default().to_string())
}

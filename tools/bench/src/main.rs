//! `wxauth-bench`: drives the token endpoint or the authorization page of a running wxauth (the
//! local server of `scripts/bench`) at a fixed concurrency for a bounded number of requests, and
//! prints throughput and latency percentiles. Loopback only by design: it is for measuring our
//! code.

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
    /// A password sign-in on the authorization page of a public web client (`--client-id`,
    /// redirect URI `<url>/demo/callback`, user `demo` / `demo-password`): the page, then its
    /// form, which starts a browser session and answers with a code.
    SignIn,
    /// An authorization request of that client answered through the browser session
    /// (`prompt=none`): no page, a code at once.
    SilentSignIn,
    /// Sign in with WeChat on a desktop, a new person each time: the page (desktop
    /// User-Agent), its QR link to the mock WeChat's page, approving there (as `<name>.u`), and
    /// our callback (the exchange, `/sns/userinfo`, the user created) answering with a code.
    WechatQrNew,
    /// The same for a person seen before (their openid linked: no `/sns/userinfo`).
    WechatQrReturning,
    /// Scan with the mini program (`SCAN_LOGIN_CLIENT=demo-miniprogram`): the page's code (desktop
    /// User-Agent) scanned by a mini-program user, then measured from the approval to the code:
    /// `POST /wechat/scan` approve, one poll, the browser's continue.
    ScanSignIn,
    /// The desktop page's poll of a ticket nobody answered yet (`GET /oauth/scan/{ticket}`), each
    /// worker polling its own page's ticket.
    ScanPoll,
}

const DESKTOP: &str =
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";

const WECHAT_GRANT: &str = "urn:wxauth:grant-type:wechat-code";
/// The local stack's scan sign-in mini program.
const SCAN_CLIENT: &str = "demo-miniprogram";
/// RFC 7636's example challenge: the bench never redeems its codes.
const PKCE_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// One worker's view of the run.
#[derive(Clone)]
struct Target {
    http: reqwest::Client,
    url: String,
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
        // The authorization page answers with redirects: they are what is measured.
        http: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?,
        url: cli.url.clone(),
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
            Scenario::WechatQrReturning => {
                self.wechat_sign_in(&format!("{tag}x{w}.u")).await?; // the person exists before measuring
                None
            }
            Scenario::LoginNew | Scenario::ClientCredentials | Scenario::SignIn | Scenario::WechatQrNew => None,
            Scenario::SilentSignIn => Some(self.sign_in(&format!("{tag}-w{w}")).await?), // the session cookie
            Scenario::ScanSignIn => Some(self.scan_user(&format!("ok-{tag}-scan-w{w}")).await?), // its access token
            Scenario::ScanPoll => {
                let (ticket, binding) = self.scan_page(&format!("{tag}-poll-{w}")).await?;
                Some(format!("{ticket} {binding}"))
            }
        };
        let mut latencies = Vec::with_capacity(n);
        for i in 0..n {
            if let Scenario::ScanSignIn = self.scenario {
                let access = refresh_token.as_deref().context("an access token")?;
                latencies.push(self.scan_sign_in(access, &format!("{tag}-{w}-{i}")).await?);
                continue;
            }
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
                Scenario::SignIn => drop(self.sign_in(&format!("{tag}-w{w}-{i}")).await?),
                Scenario::WechatQrNew => self.wechat_sign_in(&format!("{tag}x{w}x{i}.u")).await?,
                Scenario::WechatQrReturning => self.wechat_sign_in(&format!("{tag}x{w}.u")).await?,
                Scenario::SilentSignIn => {
                    let session = refresh_token.as_deref().context("a session cookie")?;
                    let request = self.http.get(self.authorize_url(&format!("{tag}-{w}-{i}"), true));
                    redirected_with_code(request.header("cookie", session)).await?;
                }
                Scenario::ScanSignIn => unreachable!("measured above"),
                Scenario::ScanPoll => {
                    let (ticket, binding) =
                        refresh_token.as_deref().and_then(|t| t.split_once(' ')).context("a ticket")?;
                    let poll = self.http.get(format!("{}/oauth/scan/{ticket}", self.url)).header("cookie", binding);
                    let body: serde_json::Value = poll.send().await?.json().await?;
                    if body["status"] != "pending" {
                        bail!("the ticket is {body}");
                    }
                }
            }
            latencies.push(started.elapsed());
        }
        Ok(latencies)
    }

    /// An authorization request URL of the web client.
    fn authorize_url(&self, state: &str, silent: bool) -> String {
        let redirect_uri = format!("{}/demo/callback", self.url);
        let mut query = vec![
            ("response_type", "code"),
            ("client_id", self.client_id.as_str()),
            ("redirect_uri", redirect_uri.as_str()),
            ("scope", "openid"),
            ("state", state),
            ("code_challenge", PKCE_CHALLENGE),
            ("code_challenge_method", "S256"),
        ];
        if silent {
            query.push(("prompt", "none"));
        }
        let query = serde_urlencoded::to_string(&query).expect("strings encode");
        format!("{}/oauth/authorize?{query}", self.url)
    }

    /// Signs `demo` in on the page; returns the browser-session cookie (`name=value`).
    async fn sign_in(&self, state: &str) -> anyhow::Result<String> {
        let page = self.http.get(self.authorize_url(state, false)).send().await?;
        if page.status() != 200 {
            bail!("the sign-in page: HTTP {}", page.status());
        }
        let csrf_cookie = cookie(&page, "").context("the page's CSRF cookie")?;
        let html = page.text().await?;
        let form = [
            ("request_id", hidden_field(&html, "request_id")?),
            ("csrf_token", hidden_field(&html, "csrf_token")?),
            ("username", "demo".to_string()),
            ("password", "demo-password".to_string()),
            ("decision", "approve".to_string()),
        ];
        let posted = self.http.post(format!("{}/oauth/authorize", self.url)).header("cookie", csrf_cookie).form(&form);
        let res = redirected_with_code(posted).await?;
        cookie(&res, "wxauth_session=").context("a session cookie")
    }

    /// Signs `user` in with WeChat from a desktop: the page's QR link, the mock WeChat's page
    /// approved as `user`, our callback answering with a code.
    async fn wechat_sign_in(&self, user: &str) -> anyhow::Result<()> {
        let page = self.http.get(self.authorize_url(user, false)).header("user-agent", DESKTOP).send().await?;
        let binding = cookie(&page, "wxauth_wechat=").context("the page's WeChat binding cookie")?;
        let html = page.text().await?;
        let marker = "<a class=\"wechat\" href=\"";
        let start = html.find(marker).context("no WeChat link on the page")? + marker.len();
        let end = html[start..].find('"').context("an unterminated link")? + start;
        let link = html[start..end].replace("&#38;", "&");
        let link = link.split('#').next().unwrap_or_default();
        let approved = self.http.post(link).form(&[("user", user), ("approve", "1")]).send().await?;
        let callback = approved.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default();
        if approved.status() != 302 || !callback.starts_with(&self.url) {
            bail!("the mock WeChat answered HTTP {} to {callback:?}", approved.status());
        }
        redirected_with_code(self.http.get(callback).header("cookie", binding)).await?;
        Ok(())
    }

    /// A mini-program user of the scan sign-in client, logged in with `code`: their access token.
    async fn scan_user(&self, code: &str) -> anyhow::Result<String> {
        let form = [("grant_type", WECHAT_GRANT), ("client_id", SCAN_CLIENT), ("code", code)];
        let res = self.http.post(&self.token_url).form(&form).send().await?;
        let body: serde_json::Value = res.json().await?;
        body["access_token"].as_str().map(str::to_string).with_context(|| format!("no access token: {body}"))
    }

    /// A desktop page's code scanned by the user of `access` (not measured), then the approval,
    /// one poll and the continue to the code: how long that took.
    async fn scan_sign_in(&self, access: &str, state: &str) -> anyhow::Result<Duration> {
        let (ticket, binding) = self.scan_page(state).await?;
        let answer = |action: &'static str| {
            let body = serde_json::json!({"scene": ticket, "action": action});
            self.http.post(format!("{}/wechat/scan", self.url)).bearer_auth(access).json(&body).send()
        };
        answer("scanned").await?.error_for_status()?;
        let started = Instant::now();
        answer("approve").await?.error_for_status()?;
        let status_url = format!("{}/oauth/scan/{ticket}", self.url);
        let poll: serde_json::Value = self.http.get(status_url).header("cookie", &binding).send().await?.json().await?;
        let continue_url = poll["continue"].as_str().with_context(|| format!("not approved: {poll}"))?;
        redirected_with_code(self.http.get(continue_url).header("cookie", &binding)).await?;
        Ok(started.elapsed())
    }

    /// A desktop sign-in page with a mini-program code: its ticket and the browser's binding cookie.
    async fn scan_page(&self, state: &str) -> anyhow::Result<(String, String)> {
        let page = self.http.get(self.authorize_url(state, false)).header("user-agent", DESKTOP).send().await?;
        let binding = cookie(&page, "wxauth_wechat=").context("the page's binding cookie")?;
        let html = page.text().await?;
        let marker = "data-status=\"/oauth/scan/";
        let start = html.find(marker).context("no mini-program code on the page (SCAN_LOGIN_CLIENT?)")? + marker.len();
        Ok((html.get(start..start + 32).context("a ticket")?.to_string(), binding))
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

/// Sends an authorization request; fails unless it is a redirect with a code.
async fn redirected_with_code(request: reqwest::RequestBuilder) -> anyhow::Result<reqwest::Response> {
    let res = request.send().await?;
    let location = res.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default();
    if res.status() != 302 || !location.contains("code=") {
        bail!("HTTP {} to {location:?}", res.status());
    }
    Ok(res)
}

/// The first cookie a response sets that begins with `prefix`, as a `Cookie` header carries it.
fn cookie(res: &reqwest::Response, prefix: &str) -> Option<String> {
    let set = res.headers().get_all("set-cookie").iter().filter_map(|v| v.to_str().ok());
    set.filter_map(|c| c.split(';').next()).find(|c| c.starts_with(prefix)).map(str::to_string)
}

/// A hidden form field's value (the page escapes none of the characters these hold).
fn hidden_field(html: &str, name: &str) -> anyhow::Result<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).with_context(|| format!("no field {name}"))? + marker.len();
    let end = html[start..].find('"').context("an unterminated value")? + start;
    Ok(html[start..end].to_string())
}

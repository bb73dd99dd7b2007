//! The shipped artifact, run as Lambda runs it: each function's release `bootstrap` (built by
//! `cargo lambda build --release`, as `sam build` and `cargo lambda deploy` build it) started
//! against a Runtime API of ours with the environment and memory size template.yaml gives it,
//! and invoked with API Gateway payload 2.0 events: every `events/*.json`, the flows that
//! matter, the deadline, a panic, a failed start. Its stdout is read as CloudWatch would read
//! it: EMF metrics and JSON log lines. `scripts/test` builds the binaries once
//! (`wxauth_tests::lambda`).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wxauth::domain::refresh_token::{Family, RefreshToken};
use wxauth::scope::Scope;
use wxauth_tests::faults::{Fault, FaultProxy, target};
use wxauth_tests::lambda::{Deployment, FORM, Instance, event, form, sample_event};
use wxauth_tests::relying_party::RelyingParty;
use wxauth_tests::runtime_api::{Deadline, Outcome};
use wxauth_tests::template;
use wxauth_tests::{ISSUER, PKCE_CHALLENGE, PKCE_VERIFIER, WECHAT_GRANT, encrypted_profile, mock_session_key};

#[tokio::test]
async fn every_sample_event_runs_through_its_function_binary() {
    let deployment = Deployment::new().await;
    // The refresh sample's token, stored as if this deployment had issued it.
    let sample = sample_event("token-refresh.json");
    let sample_form: HashMap<String, String> =
        serde_urlencoded::from_str(sample["body"].as_str().expect("body")).expect("form");
    let now = wxauth::clock::unix_now();
    let family = Family {
        id: "event-family".into(),
        client_id: "demo-miniprogram".into(),
        subject: "event-user".into(),
        session_sid: None,
        revoked: false,
        created_at: now,
        expires_at: now + 600,
    };
    let record = RefreshToken {
        hash: wxauth::secret::hash(&sample_form["refresh_token"]),
        family_id: family.id.clone(),
        client_id: family.client_id.clone(),
        subject: family.subject.clone(),
        scope: Scope::parse("openid").expect("scope"),
        auth_time: None,
        sid: None,
        method: None,
        issued_at: now,
        expires_at: now + 600,
        used_at: None,
        replaced_by: None,
        superseded: false,
    };
    deployment.env.app.store.create_family(&family, &record).await.expect("store the sample token");

    // What each sample gets: the samples carry made-up codes, secrets and bearer tokens, each
    // refused the RFC way; the login and refresh samples are real.
    // The SQS sample's notice names demo-web, which registers no back-channel URI here: done
    // with, no failure (status 0: a batch answer, not an HTTP one).
    let expected: &[(&str, u16, &str)] = &[
        ("authorize-get.json", 200, ""),
        ("backchannel-logout.json", 0, ""),
        ("device-authorization.json", 200, ""),
        ("device-page.json", 200, ""),
        ("end-session.json", 200, ""),
        ("introspect.json", 401, "invalid_client"),
        ("jwks.json", 200, ""),
        ("metadata.json", 200, ""),
        ("metadata-openid.json", 200, ""),
        ("revoke.json", 200, ""),
        ("scan-status.json", 200, ""),
        ("token-authorization-code.json", 400, "invalid_grant"),
        ("token-client-credentials.json", 401, "invalid_client"),
        ("token-refresh.json", 200, ""),
        ("token-wechat.json", 200, ""),
        ("userinfo.json", 401, "invalid_token"),
        ("verify-file.json", 404, "not_found"),
        ("wechat-callback.json", 400, ""),
        ("wechat-decrypt.json", 401, "invalid_token"),
        ("wechat-phone.json", 401, "invalid_token"),
        ("wechat-scan.json", 401, "invalid_token"),
        ("wechat-session.json", 401, "invalid_token"),
    ];
    let mut files: Vec<String> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../events"))
        .expect("events/")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".json"))
        .collect();
    files.sort();
    let mut listed: Vec<String> = expected.iter().map(|(name, _, _)| name.to_string()).collect();
    listed.sort();
    assert_eq!(files, listed, "every events/*.json has its expected answer here");

    let mut instances: HashMap<String, Instance> = HashMap::new();
    for (name, status, error) in expected {
        let event = sample_event(name);
        let function = template::function_for_event(&event);
        if !instances.contains_key(&function.binary) {
            let instance = deployment.start(&function.binary, |_| {}).await;
            instances.insert(function.binary.clone(), instance);
        }
        let instance = &instances[&function.binary];
        if function.consumes_queue {
            let answer = instance.api.invoke(event, instance.timeout()).await;
            let Outcome::Response(batch) = answer else { panic!("{name}: {answer:?}") };
            assert_eq!(batch, json!({"batchItemFailures": []}), "{name} through {}", function.binary);
            continue;
        }
        let answer = instance.invoke(event).await;
        assert_eq!(
            (answer.status, answer.json["error"].as_str().unwrap_or_default()),
            (*status, *error),
            "{name} through {}: {}",
            function.binary,
            answer.body
        );
        if *name == "token-wechat.json" {
            assert_eq!(answer.json["openid"], "openid-event-demo");
        }
    }
    assert_eq!(instances.len(), template::functions().len(), "the samples reach every function");
    for (binary, mut instance) in instances {
        assert!(instance.process.is_running(), "{binary} still serves");
        let rss_mib = instance.process.peak_rss_kib() / 1024;
        assert!(
            rss_mib < instance.function.memory_mb,
            "{binary}: peak RSS {rss_mib} MiB of its {} MB",
            instance.function.memory_mb
        );
    }
}

/// The back-channel logout binary fed an SQS batch: the notice of a relying party that answers
/// is delivered, the one whose relying party fails comes back as the batch's only failure, and
/// both outcomes are counted as CloudWatch would read them.
#[tokio::test]
async fn the_backchannel_logout_binary_reports_only_the_failed_notice_of_a_batch() {
    let deployment = Deployment::new().await;
    let env = &deployment.env;
    let (up, down) = (RelyingParty::start().await, RelyingParty::start().await);
    down.answer(&[503]);
    let (told, failing) =
        (env.web_client_with_backchannel(&up.url).await, env.web_client_with_backchannel(&down.url).await);
    let record = |id: &str, client: &str| {
        let body = json!({"client_id": client, "sub": "u1", "sid": "s1"}).to_string();
        json!({"messageId": id, "receiptHandle": format!("handle-{id}"), "body": body,
               "attributes": {"ApproximateReceiveCount": "1"}, "eventSource": "aws:sqs"})
    };
    let function = deployment.start("backchannel-logout", |_| {}).await;
    let event = json!({"Records": [record("m-told", &told), record("m-failing", &failing)]});
    let answer = function.api.invoke(event, function.timeout()).await;
    let Outcome::Response(batch) = answer else { panic!("{answer:?}") };
    assert_eq!(batch, json!({"batchItemFailures": [{"itemIdentifier": "m-failing"}]}));
    assert_eq!((up.tokens().len(), down.tokens().len()), (1, 1));

    let metrics = emf_documents(&function.process.output());
    let outcomes: Vec<&str> = metrics
        .iter()
        .filter(|m| m.get("BackchannelLogouts").is_some())
        .filter_map(|m| m["Outcome"].as_str())
        .collect();
    assert!(outcomes.contains(&"delivered") && outcomes.contains(&"failed"), "{outcomes:?}");
    for m in &metrics {
        check_emf_document(m);
    }
}

/// A user's whole session, every route through its own binary.
#[tokio::test]
async fn a_mini_program_session_runs_through_the_binaries() {
    let deployment = Deployment::new().await;
    let token = deployment.start("token", |_| {}).await;
    let userinfo = deployment.start("userinfo", |_| {}).await;
    let session = deployment.start("wechat-session", |_| {}).await;
    let decrypt = deployment.start("wechat-decrypt", |_| {}).await;
    let phone = deployment.start("wechat-phone", |_| {}).await;
    let revoke = deployment.start("revoke", |_| {}).await;
    let introspect = deployment.start("introspect", |_| {}).await;

    let name = format!("rt-{}", &wxauth::secret::random_id()[..8]);
    let login_code = format!("ok-{name}");
    let body = form(&[
        ("grant_type", WECHAT_GRANT),
        ("client_id", "demo-miniprogram"),
        ("code", &login_code),
        ("scope", "openid profile phone"),
    ]);
    let login = token.invoke(event("POST", "/oauth/token", &[FORM], Some(&body))).await;
    assert_eq!(login.status, 200, "{}", login.body);
    assert_eq!(login.header("cache-control"), Some("no-store"));
    let access = login.json["access_token"].as_str().expect("access token").to_string();
    let first_refresh = login.json["refresh_token"].as_str().expect("refresh token").to_string();
    deployment.env.verify_with_jwks(&access).await;

    let body =
        form(&[("grant_type", "refresh_token"), ("client_id", "demo-miniprogram"), ("refresh_token", &first_refresh)]);
    let refreshed = token.invoke(event("POST", "/oauth/token", &[FORM], Some(&body))).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    let access = refreshed.json["access_token"].as_str().expect("access token").to_string();
    let refresh = refreshed.json["refresh_token"].as_str().expect("refresh token").to_string();

    let bearer = format!("Bearer {access}");
    let auth = ("authorization", bearer.as_str());
    let me = userinfo.invoke(event("GET", "/userinfo", &[auth], None)).await;
    assert_eq!((me.status, me.json["openid"].as_str()), (200, Some(format!("openid-{name}").as_str())), "{}", me.body);

    let valid = session.invoke(event("GET", "/wechat/session", &[auth], None)).await;
    assert_eq!((valid.status, &valid.json), (200, &json!({"valid": true})), "{}", valid.body);

    let profile = encrypted_profile(&mock_session_key(&name), &deployment.appid, "Amy");
    let json_type = ("content-type", "application/json");
    let data = decrypt.invoke(event("POST", "/wechat/decrypt", &[auth, json_type], Some(&profile.to_string()))).await;
    assert_eq!((data.status, &data.json["data"]["nickName"]), (200, &json!("Amy")), "{}", data.body);

    let number =
        phone.invoke(event("POST", "/wechat/phone", &[auth, json_type], Some(r#"{"code":"phone-13800138000"}"#))).await;
    assert_eq!(
        (number.status, number.json["pure_phone_number"].as_str()),
        (200, Some("13800138000")),
        "{}",
        number.body
    );

    // demo-service's own token, introspected by it.
    let basic = deployment.basic();
    let service = [FORM, ("authorization", basic.as_str())];
    let body = form(&[("grant_type", "client_credentials")]);
    let service_token = token.invoke(event("POST", "/oauth/token", &service, Some(&body))).await;
    assert_eq!(service_token.status, 200, "{}", service_token.body);
    let body = form(&[("token", service_token.json["access_token"].as_str().expect("token"))]);
    let active = introspect.invoke(event("POST", "/oauth/introspect", &service, Some(&body))).await;
    assert_eq!((active.status, &active.json["active"]), (200, &json!(true)), "{}", active.body);

    // The rotated first token again: reuse, the family is revoked.
    let body =
        form(&[("grant_type", "refresh_token"), ("client_id", "demo-miniprogram"), ("refresh_token", &first_refresh)]);
    let reused = token.invoke(event("POST", "/oauth/token", &[FORM], Some(&body))).await;
    assert_eq!((reused.status, reused.json["error"].as_str()), (400, Some("invalid_grant")));
    let body = form(&[("token", &refresh), ("client_id", "demo-miniprogram")]);
    let revoked = revoke.invoke(event("POST", "/oauth/revoke", &[FORM], Some(&body))).await;
    assert_eq!(revoked.status, 200, "{}", revoked.body);

    // What CloudWatch would make of the token function's stdout.
    let output = token.process.output();
    let metrics = emf_documents(&output);
    let issued: Vec<&Value> = metrics.iter().filter(|m| m.get("TokensIssued").is_some()).collect();
    assert!(
        issued.iter().any(|m| m["Grant"] == "wechat" && m["ClientKind"] == "miniprogram"),
        "a WeChat login is counted: {issued:?}"
    );
    assert!(issued.iter().any(|m| m["Grant"] == "refresh_token"), "{issued:?}");
    assert!(issued.iter().any(|m| m["Grant"] == "client_credentials" && m["ClientKind"] == "confidential"));
    assert!(metrics.iter().any(|m| m.get("RefreshTokenReuse").is_some()), "reuse is counted");
    assert!(metrics.iter().any(|m| m["Error"] == "invalid_grant" && m.get("OAuthErrors").is_some()));
    assert!(metrics.iter().any(|m| m["Api"] == "jscode2session" && m.get("WechatCalls").is_some()));
    let latencies = metrics.iter().filter(|m| m.get("Latency").is_some()).count();
    assert_eq!(latencies, 4, "one latency per invocation of the token function");
    for m in &metrics {
        check_emf_document(m);
    }

    // Every log line of an invocation names its request id; no line of any function holds a
    // secret, token or code of this session.
    let secrets = [
        access.as_str(),
        first_refresh.as_str(),
        refresh.as_str(),
        login_code.as_str(),
        deployment.service_secret.as_str(),
        service_token.json["access_token"].as_str().expect("token"),
        &mock_session_key(&name),
        "phone-13800138000",
    ];
    for instance in [&token, &userinfo, &session, &decrypt, &phone, &revoke, &introspect] {
        let output = instance.process.output();
        for line in &output {
            for secret in secrets {
                assert!(!line.contains(secret), "{} logged a secret: {line}", instance.function.binary);
            }
        }
        // Nothing is logged at a healthy start: every line, log or metric, is an invocation's.
        for line in &output {
            let log: Value = serde_json::from_str(line).unwrap_or_else(|_| panic!("a JSON line: {line}"));
            assert!(
                request_id_of(&log).is_some_and(|id| id.starts_with("req-")),
                "{}: no request id in {log}",
                instance.function.binary
            );
        }
    }
}

/// The authorization-code flow through the authorize and token binaries, as a browser drives it.
#[tokio::test]
async fn a_web_sign_in_runs_through_the_binaries() {
    let deployment = Deployment::new().await;
    let authorize = deployment.start("authorize", |_| {}).await;
    let token = deployment.start("token", |_| {}).await;
    let redirect_uri = "http://127.0.0.1:3000/demo/callback";
    let query = form(&[
        ("response_type", "code"),
        ("client_id", "demo-web"),
        ("redirect_uri", redirect_uri),
        ("scope", "openid profile"),
        ("state", "s-1"),
        ("nonce", "n-1"),
        ("code_challenge", PKCE_CHALLENGE),
        ("code_challenge_method", "S256"),
    ]);
    let page = authorize.invoke(event("GET", &format!("/oauth/authorize?{query}"), &[], None)).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let cookie = page.cookies.first().or(page.headers.get("set-cookie")).expect("a CSRF cookie");
    let cookie = cookie.split(';').next().expect("cookie").to_string();
    let fields = [
        ("request_id", wxauth_tests::hidden_field(&page.body, "request_id")),
        ("csrf_token", wxauth_tests::hidden_field(&page.body, "csrf_token")),
        ("username", "demo".into()),
        ("password", "demo-password".into()),
        ("decision", "approve".into()),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let signed_in =
        authorize.invoke(event("POST", "/oauth/authorize", &[FORM, ("cookie", &cookie)], Some(&form(&fields)))).await;
    assert_eq!(signed_in.status, 302, "{}", signed_in.body);
    let location = signed_in.header("location").expect("Location");
    let params: HashMap<String, String> =
        serde_urlencoded::from_str(location.split_once('?').expect("query").1).expect("params");
    assert_eq!((params["state"].as_str(), params["iss"].as_str()), ("s-1", ISSUER));

    let body = form(&[
        ("grant_type", "authorization_code"),
        ("client_id", "demo-web"),
        ("code", &params["code"]),
        ("redirect_uri", redirect_uri),
        ("code_verifier", PKCE_VERIFIER),
    ]);
    let tokens = token.invoke(event("POST", "/oauth/token", &[FORM], Some(&body))).await;
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    let (_, claims) =
        deployment.env.verify_id_token(tokens.json["id_token"].as_str().expect("id token"), "demo-web").await;
    assert_eq!(claims["nonce"], "n-1");
    // Replayed: what it issued is revoked, and counted.
    let replay = token.invoke(event("POST", "/oauth/token", &[FORM], Some(&body))).await;
    assert_eq!((replay.status, replay.json["error"].as_str()), (400, Some("invalid_grant")));
    assert!(emf_documents(&token.process.output()).iter().any(|m| m.get("CodeReplay").is_some()));
}

/// The device flow (RFC 8628) through the device-authorization, authorize and token binaries: the
/// device's request, a poll before the answer, the user at `/device` signing in, the tokens.
#[tokio::test]
async fn a_device_flow_runs_through_the_binaries() {
    let deployment = Deployment::new().await;
    let device = deployment.start("device-authorization", |_| {}).await;
    let authorize = deployment.start("authorize", |_| {}).await;
    let token = deployment.start("token", |_| {}).await;
    let request = form(&[("client_id", "demo-device"), ("scope", "openid profile")]);
    let started = device.invoke(event("POST", "/oauth/device_authorization", &[FORM], Some(&request))).await;
    assert_eq!(started.status, 200, "{}", started.body);
    assert_eq!(started.header("cache-control"), Some("no-store"));
    let device_code = started.json["device_code"].as_str().expect("device_code").to_string();
    let user_code = started.json["user_code"].as_str().expect("user_code").to_string();
    let poll = form(&[
        ("grant_type", wxauth::grant_type::DEVICE_CODE),
        ("client_id", "demo-device"),
        ("device_code", &device_code),
    ]);
    let pending = token.invoke(event("POST", "/oauth/token", &[FORM], Some(&poll))).await;
    assert_eq!((pending.status, pending.json["error"].as_str()), (400, Some("authorization_pending")));

    let cookie = |answer: &wxauth_tests::runtime_api::HttpAnswer, name: &str| {
        let prefix = format!("{name}=");
        let set = answer.cookies.iter().chain(answer.headers.get("set-cookie")).find(|c| c.starts_with(&prefix));
        set.and_then(|c| c.split(';').next()).unwrap_or_else(|| panic!("no {name} cookie")).to_string()
    };
    let page = authorize.invoke(event("GET", &format!("/device?user_code={user_code}"), &[], None)).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let entered =
        form(&[("csrf_token", &wxauth_tests::hidden_field(&page.body, "csrf_token")), ("user_code", &user_code)]);
    let headers = [FORM, ("cookie", &cookie(&page, "wxauth_device_csrf"))];
    let sign_in = authorize.invoke(event("POST", "/device", &headers, Some(&entered))).await;
    assert_eq!(sign_in.status, 200, "{}", sign_in.body);
    let fields = [
        ("request_id", wxauth_tests::hidden_field(&sign_in.body, "request_id")),
        ("csrf_token", wxauth_tests::hidden_field(&sign_in.body, "csrf_token")),
        ("username", "demo".into()),
        ("password", "demo-password".into()),
        ("decision", "approve".into()),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let headers = [FORM, ("cookie", &cookie(&sign_in, "wxauth_csrf"))];
    let approved = authorize.invoke(event("POST", "/oauth/authorize", &headers, Some(&form(&fields)))).await;
    let result = format!("{ISSUER}/device?result=approved");
    assert_eq!((approved.status, approved.header("location")), (302, Some(result.as_str())), "{}", approved.body);

    // The device waits its interval out (here: the table is told so).
    wxauth_tests::device::interval_passes(&deployment.env, &device_code).await;
    let tokens = token.invoke(event("POST", "/oauth/token", &[FORM], Some(&poll))).await;
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    assert!(tokens.json["refresh_token"].is_string(), "demo-device may refresh");
    let (_, claims) =
        deployment.env.verify_id_token(tokens.json["id_token"].as_str().expect("id token"), "demo-device").await;
    assert_eq!(claims["amr"], json!(["pwd"]));
    let spent = token.invoke(event("POST", "/oauth/token", &[FORM], Some(&poll))).await;
    assert_eq!((spent.status, spent.json["error"].as_str()), (400, Some("invalid_grant")));
}

/// A request that would outlast Lambda's deadline is answered 503 before it, with Retry-After.
#[tokio::test]
async fn a_request_near_its_deadline_is_answered_503_before_lambda_kills_it() {
    let deployment = Deployment::new().await;
    let stalled = FaultProxy::start().await;
    stalled.always(target::GET_ITEM, Fault::Delay(Duration::from_secs(20)));
    let token = deployment.start_against("token", stalled.url(), |_| {}).await;
    let body = form(&[("grant_type", WECHAT_GRANT), ("client_id", "demo-miniprogram"), ("code", "ok-deadline")]);
    let timeout = Duration::from_millis(1500);
    let started = Instant::now();
    let answer = token.api.invoke(event("POST", "/oauth/token", &[FORM], Some(&body)), timeout).await.http();
    let took = started.elapsed();
    assert_unavailable(&answer);
    assert!(took < timeout, "answered in {took:?}, before the {timeout:?} deadline");
}

/// `cargo lambda watch` sends the timeout as a duration, other emulators 0: every request was
/// cut off at once. Now they are answered, within the fallback budget.
#[tokio::test]
async fn an_emulators_relative_or_zero_deadline_is_not_taken_for_an_absolute_one() {
    let deployment = Deployment::new().await;
    let jwks = deployment.start("jwks", |_| {}).await;
    for raw in ["600000", "0", "18446744073709551615"] {
        let answer =
            jwks.api.invoke_with(event("GET", "/.well-known/jwks.json", &[], None), Deadline::Raw(raw.into())).await;
        assert_eq!(answer.http().status, 200, "deadline {raw}");
    }
    let warnings = jwks.process.output().iter().filter(|l| l.contains("DEADLINE_FALLBACK_MS")).count();
    assert_eq!(warnings, 1, "warned once per container");

    // The fallback still bounds a stalled request.
    let stalled = FaultProxy::start().await;
    stalled.always(target::GET_ITEM, Fault::Delay(Duration::from_secs(20)));
    let token = deployment
        .start_against("token", stalled.url(), |env| env.push(("DEADLINE_FALLBACK_MS".into(), "1000".into())))
        .await;
    let body = form(&[("grant_type", WECHAT_GRANT), ("client_id", "demo-miniprogram"), ("code", "ok-fallback")]);
    let started = Instant::now();
    let answer = token
        .api
        .invoke_with(event("POST", "/oauth/token", &[FORM], Some(&body)), Deadline::Raw("600000".into()))
        .await;
    assert_eq!(answer.http().status, 503);
    assert!(started.elapsed() < Duration::from_secs(5), "cut off by the 1 s fallback");
}

/// A panic in a request is that invocation's error at the Runtime API; the container lives on.
#[tokio::test]
async fn a_panic_reaches_the_runtime_apis_error_endpoint_and_the_container_lives_on() {
    let deployment = Deployment::new().await;
    let jwks = deployment.start("jwks", |_| {}).await;
    // API Gateway never sends a query with a raw space, but lambda_http panics on one (it builds
    // the request's URI with `expect`): the one panic a Lambda event can reach.
    let mut broken = event("GET", "/.well-known/jwks.json", &[], None);
    broken["rawQueryString"] = json!("a b");
    let outcome = jwks.api.invoke(broken, jwks.timeout()).await;
    let Outcome::Error { body, .. } = &outcome else { panic!("expected an invocation error, got {outcome:?}") };
    assert!(body["errorMessage"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    let after = jwks.invoke(event("GET", "/.well-known/jwks.json", &[], None)).await;
    assert_eq!(after.status, 200, "the same container answers the next invocation");
}

/// A container whose envelope signing key cannot be unwrapped (a missing kms:Decrypt grant, here)
/// answers 503 with Retry-After, says why in its log (never the key), and signs once KMS
/// answers again.
#[tokio::test]
async fn a_container_that_cannot_unwrap_its_signing_key_answers_503_and_logs_why() {
    use base64::Engine as _;
    let deployment = Deployment::new().await;
    let key = deployment.env.app.keys.active(wxauth::clock::unix_now()).await.expect("the signing key");
    let wxauth::domain::signing_key::Custody::Envelope { wrapped } = &key.custody else {
        panic!("the template's default custody is envelope")
    };
    let refusing = FaultProxy::start().await;
    let denied = "User: arn:aws:sts::123456789012:assumed-role/token is not authorized to perform: kms:Decrypt";
    refusing.first_containing(
        usize::MAX,
        target::DECRYPT,
        "wxauth-signing-key",
        Fault::kms(400, "AccessDeniedException", denied),
    );
    let token = deployment.start_against("token", refusing.url(), |_| {}).await;
    let basic = deployment.basic();
    let request =
        || event("POST", "/oauth/token", &[FORM, ("authorization", &basic)], Some("grant_type=client_credentials"));
    let answer = token.invoke(request()).await;
    assert_unavailable(&answer);

    let output = token.process.output();
    let says_why = |l: &&String| l.contains("unwrapping the envelope signing key") && l.contains(&key.kid);
    assert_eq!(output.iter().filter(says_why).count(), 2, "init's warning and the request's: {output:#?}");
    assert!(output.iter().filter(says_why).all(|l| l.contains("not authorized to perform: kms:Decrypt")));
    let wrapped = base64::engine::general_purpose::STANDARD.encode(wrapped);
    for line in &output {
        assert!(!line.contains(&wrapped[..32]) && !line.contains(&deployment.service_secret), "{line}");
    }

    refusing.heal();
    tokio::time::sleep(wxauth::keys::signer::RETRY_UNWRAP_AFTER + Duration::from_millis(100)).await;
    let healed = token.invoke(request()).await;
    assert_eq!(healed.status, 200, "{}", healed.body);
}

/// A container that cannot start says why at `/runtime/init/error` and exits.
#[tokio::test]
async fn a_failed_start_is_reported_to_the_runtime_api() {
    let deployment = Deployment::new().await;
    let mut token = deployment.start("token", |env| env.retain(|(name, _)| name != "WXAUTH_TABLE")).await;
    let status = token.process.exit_status().await;
    assert!(!status.success(), "it exits: {status}");
    let (error_type, document) = token.api.init_error().expect("an init error was posted");
    assert_eq!(error_type.as_deref(), Some("Runtime.InitError"));
    let message = document["errorMessage"].as_str().expect("errorMessage");
    assert!(message.contains("WXAUTH_TABLE"), "names the missing variable: {message}");
    assert!(token.api.first_poll().is_none(), "it never asked for an invocation");
}

/// 503 `temporarily_unavailable`, to be retried after a second.
fn assert_unavailable(answer: &wxauth_tests::runtime_api::HttpAnswer) {
    assert_eq!(
        (answer.status, answer.json["error"].as_str()),
        (503, Some("temporarily_unavailable")),
        "{}",
        answer.body
    );
    assert_eq!(answer.header("retry-after"), Some("1"));
}

/// The EMF documents among a function's output lines.
fn emf_documents(output: &[String]) -> Vec<Value> {
    output.iter().filter_map(|l| serde_json::from_str::<Value>(l).ok()).filter(|v| v.get("_aws").is_some()).collect()
}

/// What CloudWatch requires of an EMF document, and what our alarms rely on.
fn check_emf_document(doc: &Value) {
    let directive = &doc["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(directive["Namespace"], "wxauth", "{doc}");
    assert!(doc["_aws"]["Timestamp"].as_u64().is_some_and(|t| t > 1_700_000_000_000), "{doc}");
    let metric = &directive["Metrics"][0];
    let name = metric["Name"].as_str().expect("Name");
    let unit = if name == "Latency" { "Milliseconds" } else { "Count" };
    assert_eq!(metric["Unit"], unit, "{doc}");
    assert!(doc[name].is_number(), "{doc}");
    for set in directive["Dimensions"].as_array().expect("Dimensions") {
        for dimension in set.as_array().expect("a dimension set") {
            let key = dimension.as_str().expect("a dimension name");
            assert!(doc[key].is_string(), "dimension {key} has a value in {doc}");
        }
    }
    assert_eq!(directive["Dimensions"][1][0], "Function", "{doc}");
}

/// A log line's request id (in its spans), or a metric line's (a property).
fn request_id_of(line: &Value) -> Option<&str> {
    line["requestId"].as_str().or_else(|| line["spans"].as_array()?.iter().find_map(|s| s["requestId"].as_str()))
}

/// The README's local workflow, walked: `cargo lambda watch` (cargo-lambda's own Runtime API
/// emulator, which sends the deadline as a duration) and `cargo lambda invoke` of a sample event.
/// Before the deadline fix every such invocation was answered 503 at once.
#[tokio::test]
async fn the_readmes_cargo_lambda_watch_workflow_answers_the_sample_events() {
    let deployment = Deployment::new().await;
    let function = template::function("jwks");
    let moto = std::env::var("AWS_ENDPOINT_URL").expect("AWS_ENDPOINT_URL");
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        listener.local_addr().expect("address").port().to_string()
    };
    let workspace: &'static str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let mut watch = tokio::process::Command::new("cargo")
        .args(["lambda", "watch", "--invoke-address", "127.0.0.1", "--invoke-port", port.as_str()])
        .current_dir(workspace)
        .envs(deployment.environment(&function, &moto))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("cargo lambda watch (cargo-lambda on the PATH: scripts/test installs it in .venv-lambda)");
    let invoke = move || {
        std::process::Command::new("cargo")
            .args(["lambda", "invoke", "jwks", "--data-file", "events/jwks.json"])
            .args(["--invoke-address", "127.0.0.1", "--invoke-port", port.as_str()])
            .current_dir(workspace)
            .output()
            .expect("cargo lambda invoke")
    };
    // watch listens once it has started; it builds and starts the function at the first invoke.
    let started = Instant::now();
    let output = loop {
        let output = tokio::task::spawn_blocking(invoke.clone()).await.expect("invoke");
        if output.status.success() || started.elapsed() > wxauth_tests::PATIENCE * 4 {
            break output;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let _ = watch.kill().await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "cargo lambda invoke: {}{}", stdout, String::from_utf8_lossy(&output.stderr));
    let answer: Value = serde_json::from_str(stdout.trim()).expect("the function's answer as JSON");
    assert_eq!(answer["statusCode"], 200, "{answer}");
    let body: Value = serde_json::from_str(answer["body"].as_str().expect("body")).expect("a JWKS document");
    assert_eq!(body["keys"].as_array().map(Vec::len), Some(1), "{body}");
}

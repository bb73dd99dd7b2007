//! README.md as a reader meets it: its contents list names every section, in order, with links
//! that GitHub's heading anchors resolve.

const README: &str = include_str!("../../README.md");

/// The `##`/`###` headings outside code blocks, after the contents list itself.
fn headings() -> Vec<(usize, String)> {
    let mut in_code = false;
    let mut out = Vec::new();
    for line in README.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        let level = if line.starts_with("### ") {
            3
        } else if line.starts_with("## ") {
            2
        } else {
            continue;
        };
        let title = line[level + 1..].to_string();
        if title != "Contents" {
            out.push((level, title));
        }
    }
    out
}

/// GitHub's anchor of a heading: lowercased, punctuation dropped, spaces to hyphens.
fn anchor(title: &str) -> String {
    let kept: String =
        title.to_lowercase().chars().filter(|c| c.is_alphanumeric() || *c == '-' || *c == ' ' || *c == '_').collect();
    kept.trim().replace(' ', "-")
}

#[test]
fn the_contents_list_every_section_in_order() {
    let start = README.find("## Contents\n").expect("a contents list");
    let listed: Vec<&str> = README[start..].lines().skip(2).take_while(|l| !l.is_empty()).collect();
    let expected: Vec<String> = headings()
        .iter()
        .map(|(level, title)| format!("{}- [{title}](#{})", if *level == 3 { "  " } else { "" }, anchor(title)))
        .collect();
    assert_eq!(listed, expected, "README.md's contents list and its headings differ");
}

/// The value under a `!Tag`.
fn tagged<'a>(value: &'a serde_norway::Value, tag: &str) -> &'a serde_norway::Value {
    match value {
        serde_norway::Value::Tagged(t) if t.tag == tag => &t.value,
        other => panic!("expected !{tag}, found {other:?}"),
    }
}

#[test]
fn each_function_is_named_after_the_stack_and_its_binary_as_the_deploy_section_says() {
    let document = wxauth_tests::template::document();
    for function in wxauth_tests::template::functions() {
        let resource = &document["Resources"][function.logical_id.as_str()];
        let name = tagged(&resource["Properties"]["FunctionName"], "Sub").as_str().expect("a !Sub string");
        assert_eq!(name, format!("${{AWS::StackName}}-{}", function.binary), "{}", function.logical_id);
        let output = &document["Outputs"][format!("{}Name", function.logical_id).as_str()];
        assert_eq!(tagged(&output["Value"], "Ref").as_str(), Some(function.logical_id.as_str()));
    }
    // The README's stack is named wxauth: its function for the token binary is wxauth-token.
    assert!(README.contains("--stack-name wxauth "), "the walkthrough names its stack");
    assert!(README.contains("cargo lambda deploy --binary-name token wxauth-token"));
    assert!(README.contains("`Architecture` `x86_64` (default)"));
    let architecture = &document["Parameters"]["Architecture"]["Default"];
    assert_eq!(architecture.as_str(), Some("x86_64"), "the default the README names, and the one the tests build");
}

/// The quick start's command that begins with `prefix` (between backticks), pointed at the local
/// server of `scripts/test` instead of `scripts/dev`'s port.
fn quick_start_command(prefix: &str) -> String {
    let section = &README[README.find("## Quick start\n").expect("a quick start")..];
    let section = &section[..section[3..].find("\n## ").expect("the next section") + 3];
    let start = section.find(&format!("`{prefix}")).unwrap_or_else(|| panic!("no `{prefix}` in the quick start")) + 1;
    let end = section[start..].find('`').expect("the command ends") + start;
    let base = std::env::var("WXAUTH_LOCAL_URL").expect("WXAUTH_LOCAL_URL: run through scripts/test");
    section[start..end].replace("http://127.0.0.1:3000", base.trim_end_matches('/'))
}

fn run(command: &str) -> serde_json::Value {
    run_with(command, &[])
}

/// Runs `command` in `sh` with `vars` set; its standard output as JSON.
fn run_with(command: &str, vars: &[(&str, &str)]) -> serde_json::Value {
    let out =
        std::process::Command::new("sh").args(["-c", command]).envs(vars.iter().copied()).output().expect("sh runs");
    assert!(out.status.success(), "{command}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{command}: not JSON ({e})"))
}

#[test]
fn the_quick_starts_login_and_userinfo_answer_as_it_says() {
    // A mock code works once: this run's own name instead of alice.
    let name = format!("readme{}", wxauth::secret::random_id().replace(['-', '_'], "x"));
    let login =
        quick_start_command("curl -s http://127.0.0.1:3000/oauth/token").replace("ok-alice", &format!("ok-{name}"));
    let tokens = run(&login);
    for field in ["access_token", "id_token", "refresh_token"] {
        assert!(tokens[field].is_string(), "{field} in {tokens}");
    }
    let userinfo = quick_start_command("curl -s http://127.0.0.1:3000/userinfo")
        .replace("<access_token>", tokens["access_token"].as_str().expect("access token"));
    let info = run(&userinfo);
    assert_eq!(info["openid"], format!("openid-{name}").as_str(), "{info}");

    // The /wechat/* lines of "WeChat data from the mini program", with the variables they name.
    let base = std::env::var("WXAUTH_LOCAL_URL").expect("WXAUTH_LOCAL_URL");
    let vars =
        [("ISSUER", base.trim_end_matches('/')), ("ACCESS_TOKEN", tokens["access_token"].as_str().expect("token"))];
    let line = |prefix: &str| {
        let start = README.find(prefix).unwrap_or_else(|| panic!("no {prefix} in the README"));
        README[start..].lines().next().expect("a line").to_string()
    };
    let phone = run_with(&line("curl -s $ISSUER/wechat/phone "), &vars);
    assert_eq!(phone["pure_phone_number"], "13800138000", "{phone}");
    let session = run_with(&line("curl -s $ISSUER/wechat/session "), &vars);
    assert_eq!(session["valid"], true, "{session}");
}

/// The commands of the README's ```sh block that follows `heading`: continuation lines joined,
/// comments dropped, and lines that are not commands as written (alternatives `a | b`, elided
/// arguments `...` between words) left out.
fn commands_after(heading: &str) -> Vec<String> {
    let section = &README[README.find(heading).unwrap_or_else(|| panic!("no {heading}"))..];
    let start = section.find("```sh\n").expect("a sh block") + "```sh\n".len();
    let block = &section[start..start + section[start..].find("```").expect("the block ends")];
    let mut commands = Vec::new();
    let mut current = String::new();
    for line in block.lines() {
        let code = line.split(" #").next().unwrap_or_default().trim_end();
        if code.trim().is_empty() {
            continue;
        }
        current.push_str(code.trim_end_matches('\\').trim_end());
        current.push(' ');
        if !code.ends_with('\\') {
            commands.push(current.trim().to_string());
            current.clear();
        }
    }
    commands.retain(|c| !c.contains(" | ") && !c.contains(" ... "));
    commands
}

#[tokio::test]
async fn the_administration_and_wechat_app_commands_run_as_written() {
    let env = wxauth_tests::TestEnv::new().await;
    let bin_dir = std::env::var("WXAUTH_BIN_DIR").expect("WXAUTH_BIN_DIR: run through scripts/test");
    // A key to bring (`--kms-key-id <ARN>`), as an operator would create it.
    let brought = env
        .kms
        .create_key()
        .key_spec(aws_sdk_kms::types::KeySpec::Rsa2048)
        .key_usage(aws_sdk_kms::types::KeyUsageType::SignVerify)
        .send()
        .await
        .expect("an RSA key")
        .key_metadata
        .expect("metadata")
        .arn
        .expect("arn");
    let sub = wxauth::secret::random_id();
    let path = format!("{bin_dir}:{}", std::env::var("PATH").unwrap_or_default());
    let vars = [
        ("PATH", path.as_str()),
        ("WXAUTH_TABLE", env.app.config.table.as_str()),
        ("KMS_DATA_KEY_ID", env.app.config.kms_data_key_id.as_str()),
    ];
    let mut ran = 0;
    for command in
        commands_after("## Administration\n").into_iter().chain(commands_after("**What to register at WeChat.**"))
    {
        let id = if command.contains("--rotate-secret") { "reports" } else { "web" };
        let command = command
            .replace("=... ", "=secret-from-the-readme ")
            .replace(" update ID ", &format!(" update {id} "))
            .replace("SUB", &sub)
            .replace("<ARN>", &brought);
        let out = std::process::Command::new("sh")
            .args(["-c", &command])
            .env_remove("ISSUER")
            .env_remove("AUDIENCE")
            .envs(vars.iter().copied())
            .output()
            .expect("sh runs");
        assert!(out.status.success(), "{command}:\n{}", String::from_utf8_lossy(&out.stderr));
        ran += 1;
    }
    assert!(ran >= 20, "the README's administration commands ran ({ran})");
    let apps = env.app.store.wechat_web_apps().await.expect("apps");
    assert_eq!(apps.len(), 1, "added twice, one removed");
    assert!(env.app.store.client("reports").await.expect("read").is_some());
}

#[test]
fn the_quick_starts_refresh_service_token_introspection_and_revocation_answer_as_it_says() {
    let name = format!("readme{}", wxauth::secret::random_id().replace(['-', '_'], "x"));
    let login =
        quick_start_command("curl -s http://127.0.0.1:3000/oauth/token").replace("ok-alice", &format!("ok-{name}"));
    let first = run(&login);
    let block = commands_after("More to try on the same stack");
    assert_eq!(block.len(), 4, "{block:?}");
    let base = std::env::var("WXAUTH_LOCAL_URL").expect("WXAUTH_LOCAL_URL");
    let secret = std::env::var("DEMO_SERVICE_SECRET").expect("DEMO_SERVICE_SECRET: scripts/test exports it");
    let fill = |command: &str, pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .fold(command.replace("http://127.0.0.1:3000", base.trim_end_matches('/')), |c, (k, v)| c.replace(k, v))
    };
    let refreshed = run(&fill(&block[0], &[("<refresh_token>", first["refresh_token"].as_str().expect("refresh"))]));
    assert!(refreshed["access_token"].is_string(), "{refreshed}");
    let service = run(&fill(&block[1], &[("<secret>", &secret)]));
    let token = service["access_token"].as_str().expect("a service token");
    let introspected = run(&fill(&block[2], &[("<secret>", &secret), ("<service_access_token>", token)]));
    assert_eq!(introspected["active"], true, "{introspected}");
    let newest = refreshed["refresh_token"].as_str().expect("the rotated refresh token");
    let revoked = run(&fill(&block[3], &[("<refresh_token>", newest)]));
    assert_eq!(revoked, serde_json::json!({}));
    let again = run(&fill(&block[0], &[("<refresh_token>", newest)]));
    assert_eq!(again["error"], "invalid_grant", "{again}");
}

#[test]
fn every_file_the_readme_and_docs_link_to_exists() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for (page, text) in [
        ("README.md", README),
        ("docs/cost.md", include_str!("../../docs/cost.md")),
        ("docs/performance.md", include_str!("../../docs/performance.md")),
        ("docs/security.md", include_str!("../../docs/security.md")),
    ] {
        let dir = root.join(page).parent().expect("a folder").to_path_buf();
        for (i, _) in text.match_indices("](") {
            let target = &text[i + 2..i + 2 + text[i + 2..].find(')').expect("the link ends")];
            if target.starts_with('#') || target.starts_with("http") {
                continue;
            }
            assert!(dir.join(target).exists(), "{page} links to {target}, which does not exist");
        }
    }
}

#[test]
fn the_device_sections_curl_lines_answer_as_it_says() {
    let commands: Vec<String> =
        commands_after("### Devices (RFC 8628)\n").into_iter().filter(|c| c.starts_with("curl ")).collect();
    assert_eq!(commands.len(), 2, "{commands:?}");
    let base = std::env::var("WXAUTH_LOCAL_URL").expect("WXAUTH_LOCAL_URL: run through scripts/test");
    let local = |command: &str| command.replace("http://127.0.0.1:3000", base.trim_end_matches('/'));
    let started = run(&local(&commands[0]));
    for field in ["device_code", "user_code", "verification_uri", "verification_uri_complete"] {
        assert!(started[field].is_string(), "{field} in {started}");
    }
    assert_eq!((started["expires_in"].as_i64(), started["interval"].as_i64()), (Some(600), Some(5)));
    let device_code = started["device_code"].as_str().expect("device_code");
    let polled = run(&local(&commands[1]).replace("<device_code>", device_code));
    assert_eq!(polled["error"], "authorization_pending", "{polled}");
}

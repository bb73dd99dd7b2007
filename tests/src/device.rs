//! The device authorization grant (RFC 8628) as its two sides drive it: the device (its request
//! for a device code, its polls) and the person at a browser (`/device`: the user code's form,
//! then our sign-in or consent page, its cookies kept as a browser keeps them).

use lambda_http::Body;
use wxauth::domain::client::ClientKind;

use crate::sign_in::hidden_field;
use crate::wechat_web::{WechatBrowser, keep_cookie};
use crate::{Reply, Server, TestEnv, form_request, raw_request};

/// The grant type a device polls with.
pub const DEVICE_GRANT: &str = wxauth::grant_type::DEVICE_CODE;

impl TestEnv {
    /// Registers a public client of the device grant (and `refresh_token` when `refresh`), scope
    /// `openid profile offline_access`; returns its id.
    pub async fn device_client(&self, refresh: bool) -> String {
        let mut grants = vec![DEVICE_GRANT];
        if refresh {
            grants.push("refresh_token");
        }
        self.client(ClientKind::Public, &grants, &[], "openid profile offline_access", None).await.0
    }
}

/// `POST /oauth/device_authorization` as the public client `client_id`, asking for `scope`.
pub async fn device_authorization(server: &Server, client_id: &str, scope: Option<&str>) -> Reply {
    let mut params = vec![("client_id", client_id)];
    params.extend(scope.map(|s| ("scope", s)));
    server.call(form_request("/oauth/device_authorization", &params)).await
}

/// [`device_authorization`] that must succeed: the device code and the user code.
pub async fn device_codes(server: &Server, client_id: &str, scope: Option<&str>) -> (String, String) {
    let reply = device_authorization(server, client_id, scope).await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    (reply.str("device_code").to_string(), reply.str("user_code").to_string())
}

/// The device's poll of the token endpoint with `device_code`, as the public client `client_id`.
pub async fn poll(server: &Server, client_id: &str, device_code: &str) -> Reply {
    server.token(&[("grant_type", DEVICE_GRANT), ("client_id", client_id), ("device_code", device_code)]).await
}

/// A browser at the verification page: our pages in-process, its cookies kept (and those of the
/// mock WeChat, for WeChat's QR page).
pub struct DeviceBrowser<'a> {
    pub browser: WechatBrowser<'a>,
    user_agent: &'a str,
    /// The last page this browser showed.
    pub html: String,
}

/// What a request answered: status, `Location`, body.
pub type Answer = (u16, Option<String>, String);

impl<'a> DeviceBrowser<'a> {
    /// A browser with `user_agent` that has shown nothing yet.
    pub fn new(server: &'a Server, mock_wechat: &str, user_agent: &'a str) -> Self {
        DeviceBrowser { browser: WechatBrowser::on(server, mock_wechat, user_agent), user_agent, html: String::new() }
    }

    /// `GET /device` with `query` (e.g. `user_code=…`): the form.
    pub async fn open(&mut self, query: &str) -> Answer {
        let path = if query.is_empty() { "/device".to_string() } else { format!("/device?{query}") };
        let answer = self.browser.ours(&path).await;
        self.html = answer.2.clone();
        answer
    }

    /// Posts the form on the page shown last to `path` with its hidden `fields` and `extra`.
    pub async fn post(&mut self, path: &str, hidden: &[&str], extra: &[(&str, &str)]) -> Answer {
        let values: Vec<(String, String)> =
            hidden.iter().map(|name| (name.to_string(), hidden_field(&self.html, name))).collect();
        let mut params: Vec<(&str, &str)> = values.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        params.extend_from_slice(extra);
        let req = form_request(path, &params);
        let answer = self.send(req).await;
        if answer.1.is_none() {
            self.html = answer.2.clone();
        }
        answer
    }

    /// Enters `user_code` in the form shown last: the sign-in or consent page, or the form again.
    pub async fn enter(&mut self, user_code: &str) -> Answer {
        self.post("/device", &["csrf_token", "locale"], &[("user_code", user_code)]).await
    }

    /// Signs `username` in on the sign-in page shown last and allows (the one button does both).
    pub async fn sign_in(&mut self, username: &str, password: &str) -> Answer {
        let fields = [("username", username), ("password", password), ("decision", "approve")];
        self.post("/oauth/authorize", &["request_id", "csrf_token", "locale"], &fields).await
    }

    /// `approve` or `deny` on the sign-in or consent page shown last.
    pub async fn decide(&mut self, decision: &str) -> Answer {
        self.post("/oauth/authorize", &["request_id", "csrf_token", "locale"], &[("decision", decision)]).await
    }

    /// Follows a redirect to one of our pages (`Location` absolute or a path).
    pub async fn follow(&mut self, location: &str) -> Answer {
        let path = location.strip_prefix(crate::ISSUER).unwrap_or(location);
        let answer = self.browser.ours(path).await;
        self.html = answer.2.clone();
        answer
    }

    /// `req` with this browser's user agent and cookies; keeps what the answer sets.
    async fn send(&mut self, mut req: lambda_http::Request) -> Answer {
        req.headers_mut().insert("user-agent", self.user_agent.parse().expect("ua"));
        let jar = &self.browser.cookies;
        if !jar.is_empty() {
            let cookie = jar.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
            req.headers_mut().insert("cookie", cookie.parse().expect("cookie"));
        }
        let res = self.browser.server().dispatch(req).await;
        for set in res.headers().get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()) {
            keep_cookie(&mut self.browser.cookies, set);
        }
        let location = res.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_string);
        (res.status().as_u16(), location, String::from_utf8_lossy(res.body().as_ref()).into_owned())
    }
}

/// `GET path` on `server` without cookies: the raw response.
pub async fn get_page(server: &Server, path: &str, headers: &[(&str, &str)]) -> wxauth::http::Response {
    let mut req = raw_request("GET", path, None, Body::Empty);
    for (name, value) in headers {
        let name = http::HeaderName::from_bytes(name.as_bytes()).expect("a header name");
        req.headers_mut().insert(name, value.parse().expect("header"));
    }
    server.dispatch(req).await
}

/// The grant as the table holds it, by its device code.
pub async fn stored_grant(env: &TestEnv, device_code: &str) -> wxauth::domain::device_grant::DeviceGrant {
    let now = wxauth::clock::unix_now();
    let hash = wxauth::secret::hash(device_code);
    env.app.store.device_grant(&hash, now).await.expect("read").expect("a live grant")
}

/// Lets the device's interval pass: its next poll counts at once (as if it had waited).
pub async fn interval_passes(env: &TestEnv, device_code: &str) {
    set_number(env, device_code, "next_poll_at", wxauth::clock::unix_now() - 1).await;
}

/// Sets the number attribute `name` of the grant of `device_code`, as if time had passed.
pub async fn set_number(env: &TestEnv, device_code: &str, name: &str, value: i64) {
    let key = wxauth::store::device_grants::grant_key(&wxauth::secret::hash(device_code));
    env.app
        .store
        .dynamodb()
        .update_item()
        .table_name(env.app.store.table())
        .set_key(Some(key.attributes()))
        .update_expression("SET #n = :v")
        .expression_attribute_names("#n", name)
        .expression_attribute_values(":v", aws_sdk_dynamodb::types::AttributeValue::N(value.to_string()))
        .send()
        .await
        .expect("UpdateItem");
}

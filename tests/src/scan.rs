//! Signing in on a computer by scanning the mini program's code, as the two sides do it: the
//! desktop browser (our pages in-process, its cookies kept) and the phone (the mini program's
//! user and access token, `POST /wechat/scan`).

use lambda_http::Body;
use serde_json::{Value, json};
use wxauth::config::ScanLogin;
use wxauth::secret::random_id;

use crate::sign_in::code_request;
use crate::wechat_web::{DESKTOP, WechatBrowser};
use crate::{MiniProgram, Reply, Server, TestEnv, bearer_request, raw_request};

/// The mini program's confirmation page, as the local stack configures it.
pub const SCAN_PAGE: &str = "pages/scan/scan";

/// Scan sign-in through the mini program of client `client_id`, at [`SCAN_PAGE`].
pub fn scan_login(client_id: &str) -> ScanLogin {
    ScanLogin { client_id: client_id.into(), page: SCAN_PAGE.into(), env_version: "release".into() }
}

/// A deployment offering scan sign-in through a mini program of its own (registered at the mock
/// WeChat too), with `adjust` applied to its configuration.
pub async fn scan_env(adjust: impl FnOnce(&mut wxauth::config::Config)) -> (TestEnv, MiniProgram) {
    let client_id = format!("mp-{}", random_id());
    let appid = format!("wx{}", random_id().replace(['-', '_'], "0"));
    let scan = scan_login(&client_id);
    let env = TestEnv::with_config(|config| {
        config.scan_login = Some(scan);
        adjust(config);
    })
    .await;
    let mp = env.miniprogram_with_ids(&client_id, &appid).await;
    (env, mp)
}

/// The ticket of the page's mini-program code (`data-status="/oauth/scan/<ticket>"`).
pub fn ticket_of(html: &str) -> Option<String> {
    let marker = "data-status=\"/oauth/scan/";
    let start = html.find(marker)? + marker.len();
    Some(html[start..start + 32].to_string())
}

/// A desktop browser showing a sign-in page with a mini-program code.
pub struct ScanBrowser<'a> {
    pub browser: WechatBrowser<'a>,
    pub html: String,
    pub ticket: String,
}

impl<'a> ScanBrowser<'a> {
    /// Opens the authorization request of `client_id` (code flow, `scope`) on a desktop.
    pub async fn open(env: &'a TestEnv, client_id: &str, scope: &str) -> ScanBrowser<'a> {
        Self::open_on(env, &env.mock_wechat, client_id, scope).await
    }

    /// [`open`](Self::open) on `server` (e.g. one behind the fault proxy).
    pub async fn open_on(server: &'a Server, mock_wechat: &str, client_id: &str, scope: &str) -> ScanBrowser<'a> {
        let mut browser = WechatBrowser::on(server, mock_wechat, DESKTOP);
        let query = serde_urlencoded::to_string(code_request(client_id, scope, "st")).expect("query");
        let (status, _, html) = browser.ours(&format!("/oauth/authorize?{query}")).await;
        assert_eq!(status, 200, "{html}");
        let ticket = ticket_of(&html).unwrap_or_else(|| panic!("no mini-program code on the page:\n{html}"));
        ScanBrowser { browser, html, ticket }
    }

    /// `GET /oauth/scan/{ticket}` in this browser: status and JSON.
    pub async fn poll(&mut self) -> (u16, Value) {
        let path = format!("/oauth/scan/{}", self.ticket);
        let (status, _, body) = self.browser.ours(&path).await;
        (status, serde_json::from_str(&body).unwrap_or(Value::Null))
    }

    /// `GET /oauth/scan/{ticket}/continue` in this browser: status, `Location`, body.
    pub async fn continue_(&mut self) -> (u16, Option<String>, String) {
        let path = format!("/oauth/scan/{}/continue", self.ticket);
        self.browser.ours(&path).await
    }

    /// `GET /oauth/scan/{ticket}/image` in this browser: status, content type and bytes.
    pub async fn image(&self) -> (u16, Option<String>, Vec<u8>) {
        let mut req = raw_request("GET", &format!("/oauth/scan/{}/image", self.ticket), None, Body::Empty);
        req.headers_mut().insert("user-agent", DESKTOP.parse().expect("ua"));
        let cookie = self.browser.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
        req.headers_mut().insert("cookie", cookie.parse().expect("cookie"));
        let res = self.browser_server().dispatch(req).await;
        let content_type = res.headers().get("content-type").and_then(|v| v.to_str().ok()).map(str::to_string);
        (res.status().as_u16(), content_type, res.body().as_ref().to_vec())
    }

    fn browser_server(&self) -> &Server {
        self.browser.server()
    }
}

/// The text of the QR code in `png` (the mock WeChat's codes are QR codes; WeChat's own are its
/// round "sun codes", which only WeChat reads).
pub fn decode_qr(png: &[u8]) -> String {
    let decoder = png::Decoder::new(std::io::Cursor::new(png));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut pixels = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut pixels).expect("a frame");
    let channels = info.color_type.samples();
    let (width, height) = (info.width as usize, info.height as usize);
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| {
        let at = (y * width + x) * channels;
        // Transparent pixels (WeChat's is_hyaline) read as white.
        match channels {
            2 | 4 if pixels[at + channels - 1] < 128 => 255,
            _ => pixels[at],
        }
    });
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the image");
    grids[0].decode().expect("a readable QR code").1
}

/// The mini program's `action` on `scene` with `access_token`, from a phone on another network
/// than the browser's.
pub async fn scan_action(server: &Server, access_token: &str, scene: &str, action: &str) -> Reply {
    scan_action_from(server, PHONE_IP, access_token, scene, action).await
}

/// The address API Gateway sees the phone's requests come from, unless a test says otherwise.
pub const PHONE_IP: &str = "198.51.100.20";

/// [`scan_action`] from a phone at `ip`.
pub async fn scan_action_from(server: &Server, ip: &str, access_token: &str, scene: &str, action: &str) -> Reply {
    let body = Some(json!({"scene": scene, "action": action}));
    let req = wxauth::http::with_source_ip(bearer_request("POST", "/wechat/scan", access_token, body), ip);
    server.call(req).await
}

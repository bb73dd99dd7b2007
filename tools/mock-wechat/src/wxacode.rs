//! Mini-program codes: `POST /wxa/getwxacodeunlimit?access_token=ACCESS_TOKEN`.
//!
//! WeChat draws a code that opens `page` of the token's mini program with
//! `scene` in its launch options. Body (JSON, not a form):
//!
//! | field | WeChat's rule |
//! |---|---|
//! | `scene` | required: 1 to 32 visible characters of `0-9A-Za-z!#$&'()*+,/:;=?@-._~` |
//! | `page` | default the main page; no leading `/`, no parameters (they go in `scene`) |
//! | `check_path` | default `true`: `page` must be a page of the released version |
//! | `env_version` | `release` (default), `trial` or `develop` |
//! | `width` | the image's width in pixels, 280 to 1280, default 430 |
//! | `auto_color`, `line_color`, `is_hyaline` | colours and a transparent background |
//!
//! Success is the image itself (HTTP 200, an image content type), not JSON;
//! a failure is WeChat's JSON error, HTTP 200 like every API's: 40169
//! `invalid length for scene, or the data is not json string` (a bad
//! `scene`), 41030 `invalid page` (not a page of the released version),
//! 40097 `invalid args` (say, an `env_version` of another name), 45009
//! `reach max api daily quota limit` (its rate limit, 5,000 calls a minute),
//! -1 `system error`, and the token's 41001 / 40001 / 42001
//! ([`crate::tokens`]).
//!
//! The mock answers `200 image/png`: an 8-bit grayscale PNG, `width` pixels
//! square, of a QR code with a quiet zone (WeChat's own are round "sun
//! codes", which only WeChat reads) whose text is `{page}?scene={scene}`,
//! `page` as given or the main page, so that a test reads it as the phone
//! would. Its checks, in order, after the token's:
//!
//! - failures asked for by `POST /mock/wxacode-errors` `{"appid", "errcode",
//!   "times"}`: the app's next `times` calls answer `errcode`
//!   ([`crate::control`]);
//! - the body not a JSON object, or a field of another type (`scene`,
//!   `page`, `env_version` not strings, `check_path` not a boolean, `width`
//!   not a number) → 47001 `data format error`; `auto_color`, `line_color`
//!   and `is_hyaline` are not read;
//! - `scene` missing or not of WeChat's characters and length → 40169;
//! - `page` with a leading `/` or a `?` → 41030; longer than 128 bytes →
//!   40097 (the mock's limit); an empty `page` is the main page;
//! - `env_version` other than the three, or `width` out of its range or not
//!   an integer → 40097;
//! - with `check_path` (the default) and `release` (the default): `page` not
//!   one of the app's published pages → 41030; `trial` and `develop`, or
//!   `check_path: false`, take any page.
//!
//! An app's published pages are the `pages` it was registered with (fixtures
//! file or `POST /mock/apps`, [`crate::fixtures`]), else [`DEFAULT_PAGES`];
//! the first is its main page. Every call whose token is known counts as
//! `getwxacodeunlimit` in `GET /mock/calls`; every code made is recorded,
//! and `GET /mock/wxacodes?appid=` lists them, newest first.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use qrcode::{Color, QrCode};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::errors::WxError;
use crate::routes::{AppState, answer, json_object, query_params, string_field};
use crate::state::{Api, Mock};

pub const PATH: &str = "/wxa/getwxacodeunlimit";
/// A mini program's published pages unless registered with its own: the
/// main page, and the page that confirms a scan sign-in.
pub const DEFAULT_PAGES: [&str; 2] = ["pages/index/index", "pages/scan/scan"];
/// The characters WeChat takes in a `scene`, besides ASCII letters and digits.
const SCENE_SYMBOLS: &[u8] = b"!#$&'()*+,/:;=?@-._~";
const MAX_SCENE: usize = 32;
const WIDTHS: std::ops::RangeInclusive<u64> = 280..=1280;
const DEFAULT_WIDTH: u64 = 430;
/// The longest `page` the mock takes (WeChat's limit for the paths of its
/// other code APIs).
const MAX_PAGE: usize = 128;
/// The white border around the code, in modules (the QR standard's four).
const QUIET_ZONE: usize = 4;

/// A code the mock made (`GET /mock/wxacodes`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WxaCode {
    pub scene: String,
    /// As given, or the app's main page.
    pub page: String,
    pub env_version: String,
    pub check_path: bool,
    pub width: u64,
}

impl WxaCode {
    /// The text of the code's QR code: what a phone reads.
    pub fn text(&self) -> String {
        format!("{}?scene={}", self.page, self.scene)
    }
}

/// The codes made (oldest first) and the failures asked for, by appid.
#[derive(Debug, Default)]
pub(crate) struct WxaCodes {
    made: HashMap<String, Vec<WxaCode>>,
    /// The error and how many more calls answer it.
    failures: HashMap<String, (WxError, u32)>,
}

/// Whether WeChat takes `scene`: 1 to 32 of its characters.
fn valid_scene(scene: &str) -> bool {
    (1..=MAX_SCENE).contains(&scene.len())
        && scene.bytes().all(|b| b.is_ascii_alphanumeric() || SCENE_SYMBOLS.contains(&b))
}

/// Whether `page` can be a mini program's page: not empty, no leading `/`,
/// no `?`, at most 128 bytes (also for the `pages` an app is registered with).
pub(crate) fn is_page(page: &str) -> bool {
    !page.is_empty() && page.len() <= MAX_PAGE && !page.starts_with('/') && !page.contains('?')
}

/// An optional boolean field (null is absent; another type → 47001).
fn bool_field(body: &Map<String, Value>, name: &str) -> Result<Option<bool>, WxError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(WxError::DATA_FORMAT_ERROR),
    }
}

/// The request as WeChat reads it, `main_page` standing in for no `page`;
/// every check but the published pages'.
fn read(body: &Map<String, Value>, main_page: &str) -> Result<WxaCode, WxError> {
    let scene = string_field(body, "scene")?;
    let page = string_field(body, "page")?;
    let check_path = bool_field(body, "check_path")?.unwrap_or(true);
    let env_version = string_field(body, "env_version")?.unwrap_or_else(|| "release".to_owned());
    let width = match body.get("width") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(n),
        Some(_) => return Err(WxError::DATA_FORMAT_ERROR),
    };

    let scene = scene.filter(|s| valid_scene(s)).ok_or(WxError::INVALID_SCENE)?;
    let page = match page.filter(|p| !p.is_empty()) {
        None => main_page.to_owned(),
        Some(p) if p.starts_with('/') || p.contains('?') => return Err(WxError::INVALID_PAGE),
        Some(p) if p.len() > MAX_PAGE => return Err(WxError::INVALID_ARGS),
        Some(p) => p,
    };
    if !["release", "trial", "develop"].contains(&env_version.as_str()) {
        return Err(WxError::INVALID_ARGS);
    }
    let width = match width {
        None => DEFAULT_WIDTH,
        Some(n) => n.as_u64().filter(|w| WIDTHS.contains(w)).ok_or(WxError::INVALID_ARGS)?,
    };
    Ok(WxaCode { scene, page, env_version, check_path, width })
}

impl Mock {
    /// `appid`'s published pages, its main page first.
    pub fn published_pages(&self, appid: &str) -> Vec<String> {
        match self.app(appid).and_then(|app| app.pages.clone()) {
            Some(pages) => pages,
            None => DEFAULT_PAGES.map(str::to_owned).to_vec(),
        }
    }

    /// `getwxacodeunlimit` for the token's `appid` and the request's body:
    /// the PNG, the code recorded.
    pub fn wxacode(&mut self, appid: &str, body: &[u8]) -> Result<Vec<u8>, WxError> {
        if let Some((err, times)) = self.wxacodes.failures.get_mut(appid)
            && *times > 0
        {
            *times -= 1;
            return Err(*err);
        }
        let pages = self.published_pages(appid);
        let main_page = pages.first().map_or(DEFAULT_PAGES[0], String::as_str);
        let code = read(&json_object(body)?, main_page)?;
        if code.check_path && code.env_version == "release" && !pages.contains(&code.page) {
            return Err(WxError::INVALID_PAGE);
        }
        let png = qr_png(&code.text(), code.width).ok_or(WxError::SYSTEM_ERROR)?;
        self.wxacodes.made.entry(appid.to_owned()).or_default().push(code);
        Ok(png)
    }

    /// The next `times` calls of `appid` answer `err` (replacing any failures
    /// asked for before; 0 clears them).
    pub fn fail_wxacodes(&mut self, appid: &str, err: WxError, times: u32) {
        self.wxacodes.failures.insert(appid.to_owned(), (err, times));
    }

    /// The codes made for `appid`, newest first.
    pub fn wxacodes_made(&self, appid: &str) -> Vec<WxaCode> {
        self.wxacodes.made.get(appid).map(|made| made.iter().rev().cloned().collect()).unwrap_or_default()
    }
}

/// An 8-bit grayscale PNG of the QR code of `text`: `width` pixels square (or
/// the smallest that fits), with a quiet zone of at least four modules.
/// `None` if `text` is too long for a QR code.
pub fn qr_png(text: &str, width: u64) -> Option<Vec<u8>> {
    let code = QrCode::new(text.as_bytes()).ok()?;
    let modules = code.width();
    let with_quiet_zone = modules + 2 * QUIET_ZONE;
    let side = usize::try_from(width).ok()?.max(with_quiet_zone);
    let scale = side / with_quiet_zone;
    let margin = (side - modules * scale) / 2;
    let mut pixels = vec![u8::MAX; side * side];
    for (i, color) in code.to_colors().into_iter().enumerate() {
        if color == Color::Dark {
            let (x, y) = (margin + (i % modules) * scale, margin + (i / modules) * scale);
            for row in y..y + scale {
                pixels[row * side + x..row * side + x + scale].fill(0);
            }
        }
    }
    let side = u32::try_from(side).ok()?;
    let mut png = Vec::new();
    let mut encoder = png::Encoder::new(&mut png, side, side);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().ok()?;
    writer.write_image_data(&pixels).ok()?;
    writer.finish().ok()?;
    Some(png)
}

pub(crate) async fn handle(State(state): State<AppState>, RawQuery(query): RawQuery, body: Bytes) -> Response {
    let params = query_params(query);
    let token = params.get("access_token").map(String::as_str);
    let mut image = None;
    // An error is WeChat's JSON, as every API answers it; success, the image.
    let error = answer(&state, |mock, now| {
        let appid = mock.resolve_token(token, Api::GetWxaCodeUnlimit, now)?;
        image = Some(mock.wxacode(&appid, &body)?);
        Ok(())
    });
    match image {
        Some(png) => ([(header::CONTENT_TYPE, "image/png")], png).into_response(),
        None => error,
    }
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use serde_json::json;

    use super::*;
    use crate::fixtures::AppSpec;
    use crate::testing::{T0, app, assert_error, header_of, mock, parse, send, send_raw, token, wechat};
    use crate::tokens::ACCESS_TOKEN_TTL_MS;

    /// The text of the one QR code in `png`.
    fn decode(png: &[u8]) -> String {
        let mut reader = png::Decoder::new(std::io::Cursor::new(png)).read_info().expect("a PNG");
        let mut pixels = vec![0; reader.output_buffer_size().expect("a size")];
        let info = reader.next_frame(&mut pixels).expect("a frame");
        assert_eq!((info.color_type, info.bit_depth), (png::ColorType::Grayscale, png::BitDepth::Eight));
        let (w, h) = (info.width as usize, info.height as usize);
        let mut image = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| pixels[y * w + x]);
        let grids = image.detect_grids();
        assert_eq!(grids.len(), 1, "one code");
        grids[0].decode().expect("readable").1
    }

    /// The PNG's width and height.
    fn size(png: &[u8]) -> (u32, u32) {
        let reader = png::Decoder::new(std::io::Cursor::new(png)).read_info().expect("a PNG");
        (reader.info().width, reader.info().height)
    }

    fn code(m: &mut Mock, appid: &str, body: Value) -> Result<Vec<u8>, WxError> {
        m.wxacode(appid, body.to_string().as_bytes())
    }

    #[test]
    fn a_code_is_a_png_of_page_and_scene() {
        let mut m = mock();
        let scene = "0123456789abcdefABCDEF!#$&'()*+,";
        let png = code(&mut m, "wxa", json!({"scene": scene, "page": "pages/scan/scan", "width": 280}));
        let png = png.expect("a code");
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
        assert_eq!(decode(&png), format!("pages/scan/scan?scene={scene}"));
        assert_eq!(size(&png), (280, 280));

        // No page (or an empty one): the main page; the default width.
        let png = code(&mut m, "wxa", json!({"scene": "/:;=?@-._~", "auto_color": true, "is_hyaline": true}));
        let png = png.expect("a code");
        assert_eq!(decode(&png), "pages/index/index?scene=/:;=?@-._~");
        assert_eq!(size(&png), (430, 430));
        let png = code(&mut m, "wxa", json!({"scene": "s", "page": "", "width": 1280})).expect("a code");
        assert_eq!((decode(&png), size(&png)), ("pages/index/index?scene=s".to_owned(), (1280, 1280)));
    }

    #[test]
    fn codes_are_recorded_newest_first_per_app() {
        let mut m = mock();
        assert!(code(&mut m, "wxa", json!({"scene": "one", "page": "pages/scan/scan"})).is_ok());
        assert!(code(&mut m, "wxb", json!({"scene": "other"})).is_ok());
        let trial = json!({"scene": "two", "page": "pages/new/new", "env_version": "trial", "width": 300});
        assert!(code(&mut m, "wxa", trial).is_ok());
        assert!(code(&mut m, "wxa", json!({"scene": ""})).is_err(), "a refusal makes no code");
        let made = |scene: &str, page: &str, env_version: &str, width| WxaCode {
            scene: scene.into(),
            page: page.into(),
            env_version: env_version.into(),
            check_path: true,
            width,
        };
        assert_eq!(
            m.wxacodes_made("wxa"),
            vec![made("two", "pages/new/new", "trial", 300), made("one", "pages/scan/scan", "release", 430)]
        );
        assert_eq!(m.wxacodes_made("wxb"), vec![made("other", "pages/index/index", "release", 430)]);
        assert_eq!(m.wxacodes_made("wxc"), vec![]);
    }

    #[test]
    fn wechats_checks_of_the_body() {
        let mut m = mock();
        let scenes = [json!(null), json!(""), json!("x".repeat(33)), json!("中文"), json!("a%20b"), json!("a b")];
        for scene in scenes {
            assert_eq!(code(&mut m, "wxa", json!({"scene": scene})), Err(WxError::INVALID_SCENE), "{scene}");
        }
        assert!(code(&mut m, "wxa", json!({"scene": "x".repeat(32)})).is_ok());
        assert_eq!(code(&mut m, "wxa", json!({"page": "pages/scan/scan"})), Err(WxError::INVALID_SCENE));
        assert_eq!(WxError::INVALID_SCENE.errmsg(), "invalid length for scene, or the data is not json string");

        for (body, err) in [
            (json!({"scene": "s", "page": "/pages/scan/scan"}), WxError::INVALID_PAGE),
            (json!({"scene": "s", "page": "pages/scan/scan?x=1", "check_path": false}), WxError::INVALID_PAGE),
            (json!({"scene": "s", "page": "p".repeat(129), "check_path": false}), WxError::INVALID_ARGS),
            (json!({"scene": "s", "env_version": "beta"}), WxError::INVALID_ARGS),
            (json!({"scene": "s", "width": 279}), WxError::INVALID_ARGS),
            (json!({"scene": "s", "width": 1281}), WxError::INVALID_ARGS),
            (json!({"scene": "s", "width": 430.5}), WxError::INVALID_ARGS),
            (json!({"scene": "", "width": 100, "page": "/p"}), WxError::INVALID_SCENE),
            (json!({"scene": "s", "width": 100, "page": "/p"}), WxError::INVALID_PAGE),
            (json!({"scene": 1}), WxError::DATA_FORMAT_ERROR),
            (json!({"scene": "s", "page": 1}), WxError::DATA_FORMAT_ERROR),
            (json!({"scene": "s", "check_path": "false"}), WxError::DATA_FORMAT_ERROR),
            (json!({"scene": "s", "width": "430"}), WxError::DATA_FORMAT_ERROR),
            (json!(["s"]), WxError::DATA_FORMAT_ERROR),
        ] {
            assert_eq!(code(&mut m, "wxa", body.clone()), Err(err), "{body}");
        }
        assert_eq!(m.wxacode("wxa", b"scene=s"), Err(WxError::DATA_FORMAT_ERROR));
        assert_eq!(m.wxacodes_made("wxa").len(), 1);
    }

    #[test]
    fn only_a_checked_release_needs_a_published_page() {
        let mut m = mock();
        let unpublished = |extra: Value| {
            let mut body = json!({"scene": "s", "page": "pages/new/new"});
            if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
                body.extend(extra.clone());
            }
            body
        };
        assert_eq!(code(&mut m, "wxa", unpublished(json!({}))), Err(WxError::INVALID_PAGE));
        let release = json!({"env_version": "release", "check_path": true});
        assert_eq!(code(&mut m, "wxa", unpublished(release)), Err(WxError::INVALID_PAGE));
        assert_eq!(WxError::INVALID_PAGE.errmsg(), "invalid page");
        for ok in [
            json!({"check_path": false}),
            json!({"env_version": "trial"}),
            json!({"env_version": "develop", "check_path": true}),
        ] {
            let png = code(&mut m, "wxa", unpublished(ok.clone())).unwrap_or_else(|e| panic!("{ok}: {e:?}"));
            assert_eq!(decode(&png), "pages/new/new?scene=s");
        }
        for page in DEFAULT_PAGES {
            assert!(code(&mut m, "wxa", json!({"scene": "s", "page": page})).is_ok(), "{page}");
        }
    }

    #[test]
    fn an_app_registered_with_pages_has_those() {
        let mut m = mock();
        let pages = vec!["pages/home/home".to_owned(), "pages/confirm/confirm".to_owned()];
        let spec = AppSpec { secret: "s".into(), pages: Some(pages.clone()), ..AppSpec::default() };
        m.add_app("wxshop", spec.into_app().expect("an app"));
        assert_eq!(m.published_pages("wxshop"), pages);
        assert_eq!(m.published_pages("wxother"), DEFAULT_PAGES.to_vec());

        let png = code(&mut m, "wxshop", json!({"scene": "s"})).expect("the main page");
        assert_eq!(decode(&png), "pages/home/home?scene=s");
        assert!(code(&mut m, "wxshop", json!({"scene": "s", "page": "pages/confirm/confirm"})).is_ok());
        let index = json!({"scene": "s", "page": "pages/index/index"});
        assert_eq!(code(&mut m, "wxshop", index), Err(WxError::INVALID_PAGE), "not one of its pages");
    }

    #[test]
    fn asked_for_failures_come_first_then_codes_again() {
        let mut m = mock();
        m.fail_wxacodes("wxa", WxError::RATE_LIMITED, 2);
        assert_eq!(WxError::RATE_LIMITED.errmsg(), "reach max api daily quota limit");
        let request = json!({"scene": "s"});
        assert_eq!(code(&mut m, "wxa", request.clone()), Err(WxError::RATE_LIMITED));
        assert!(code(&mut m, "wxb", request.clone()).is_ok(), "per app");
        assert_eq!(m.wxacode("wxa", b"not json"), Err(WxError::RATE_LIMITED), "whatever the body");
        assert!(code(&mut m, "wxa", request.clone()).is_ok());
        assert!(code(&mut m, "wxa", request.clone()).is_ok());

        m.fail_wxacodes("wxa", WxError::SYSTEM_ERROR, 1);
        m.fail_wxacodes("wxa", WxError(40001), 1);
        assert_eq!(code(&mut m, "wxa", request.clone()), Err(WxError::INVALID_CREDENTIAL), "the last asked for");
        assert!(code(&mut m, "wxa", request.clone()).is_ok());
        m.fail_wxacodes("wxa", WxError::INVALID_PAGE, 1);
        m.fail_wxacodes("wxa", WxError::INVALID_PAGE, 0);
        assert!(code(&mut m, "wxa", request).is_ok(), "0 clears");
        assert_eq!(m.wxacodes_made("wxa").len(), 4);
    }

    #[test]
    fn the_token_comes_first_and_every_call_with_a_known_one_counts() {
        let mut m = mock();
        let t = token(&mut m, "wxa", T0);
        let api = Api::GetWxaCodeUnlimit;
        assert_eq!(m.resolve_token(None, api, T0), Err(WxError::ACCESS_TOKEN_MISSING));
        assert_eq!(m.resolve_token(Some("bogus"), api, T0), Err(WxError::INVALID_CREDENTIAL));
        assert_eq!(m.resolve_token(Some(&t), api, T0 + ACCESS_TOKEN_TTL_MS), Err(WxError::ACCESS_TOKEN_EXPIRED));
        assert_eq!(m.resolve_token(Some(&t), api, T0), Ok("wxa".into()));
        assert_eq!(m.calls("wxa").getwxacodeunlimit, 2);
    }

    /// A server access token for `appid`, from the router's `stable_token`.
    async fn server_token(app: &Router, appid: &str) -> String {
        let request = json!({"grant_type": "client_credential", "appid": appid, "secret": "s"}).to_string();
        let answer = wechat(app, "POST", "/cgi-bin/stable_token", &request).await;
        answer["access_token"].as_str().unwrap_or_default().to_owned()
    }

    #[tokio::test]
    async fn over_http_an_image_or_wechats_json() {
        let (app, time) = app();
        let uri = format!("{PATH}?access_token={}", server_token(&app, "wxq").await);

        let (status, headers, png) =
            send_raw(&app, "POST", &uri, &[], r#"{"scene": "t1", "page": "pages/scan/scan"}"#).await;
        assert_eq!((status.as_u16(), header_of(&headers, header::CONTENT_TYPE).as_str()), (200, "image/png"));
        assert_eq!(decode(&png), "pages/scan/scan?scene=t1");
        let (_, headers, png) = send_raw(&app, "POST", &uri, &[], r#"{"scene": "t2"}"#).await;
        assert_eq!(header_of(&headers, header::CONTENT_TYPE), "image/png");
        assert_eq!(decode(&png), "pages/index/index?scene=t2");

        for (body, errcode, errmsg) in [
            (r#"{"scene": ""}"#, 40169, "invalid length for scene, or the data is not json string"),
            (r#"{"scene": "s", "page": "pages/new/new"}"#, 41030, "invalid page"),
            (r#"{"scene": "s", "env_version": "prod"}"#, 40097, "invalid args"),
            ("scene=s", 47001, "data format error"),
        ] {
            assert_error(&wechat(&app, "POST", &uri, body).await, errcode, errmsg);
        }
        let trial = r#"{"scene": "t3", "page": "pages/new/new", "env_version": "trial"}"#;
        let (_, _, png) = send_raw(&app, "POST", &uri, &[], trial).await;
        assert_eq!(decode(&png), "pages/new/new?scene=t3");

        let scene = r#"{"scene": "s"}"#;
        assert_error(&wechat(&app, "POST", PATH, scene).await, 41001, "access_token missing");
        assert_error(
            &wechat(&app, "POST", &format!("{PATH}?access_token=nope"), scene).await,
            40001,
            "invalid credential, access_token is invalid or not latest",
        );
        time.fetch_add(ACCESS_TOKEN_TTL_MS, std::sync::atomic::Ordering::SeqCst);
        assert_error(&wechat(&app, "POST", &uri, scene).await, 42001, "access_token expired");

        let (_, _, calls) = send(&app, "GET", "/mock/calls?appid=wxq", "").await;
        assert_eq!(parse(&calls)["getwxacodeunlimit"], 8, "every call with a known token");
    }

    #[tokio::test]
    async fn control_routes_list_codes_and_make_calls_fail() {
        let (app, _) = app();
        let uri = format!("{PATH}?access_token={}", server_token(&app, "wxr").await);
        let other = format!("{PATH}?access_token={}", server_token(&app, "wxs").await);
        send_raw(&app, "POST", &uri, &[], r#"{"scene": "first", "page": "pages/scan/scan"}"#).await;
        send_raw(&app, "POST", &other, &[], r#"{"scene": "elsewhere"}"#).await;
        let second = r#"{"scene": "second", "page": "pages/new/new", "check_path": false, "width": 600}"#;
        send_raw(&app, "POST", &uri, &[], second).await;

        let (status, content_type, listed) = send(&app, "GET", "/mock/wxacodes?appid=wxr", "").await;
        assert_eq!((status.as_u16(), content_type.as_str()), (200, "application/json"));
        assert_eq!(
            parse(&listed),
            json!([
                {"scene": "second", "page": "pages/new/new", "env_version": "release", "check_path": false, "width": 600},
                {"scene": "first", "page": "pages/scan/scan", "env_version": "release", "check_path": true, "width": 430}
            ])
        );
        let (_, _, listed) = send(&app, "GET", "/mock/wxacodes?appid=wx-unknown", "").await;
        assert_eq!(parse(&listed), json!([]));
        let (status, ..) = send(&app, "GET", "/mock/wxacodes", "").await;
        assert_eq!(status.as_u16(), 400);

        let fail = r#"{"appid": "wxr", "errcode": 45009, "times": 2}"#;
        let (status, content_type, answer) = send(&app, "POST", "/mock/wxacode-errors", fail).await;
        assert_eq!(
            (status.as_u16(), content_type.as_str(), parse(&answer)),
            (200, "application/json", json!({"ok": true}))
        );
        let scene = r#"{"scene": "s"}"#;
        for _ in 0..2 {
            assert_error(&wechat(&app, "POST", &uri, scene).await, 45009, "reach max api daily quota limit");
        }
        let (_, headers, png) = send_raw(&app, "POST", &uri, &[], scene).await;
        assert_eq!(header_of(&headers, header::CONTENT_TYPE), "image/png", "the failures ran out");
        assert_eq!(decode(&png), "pages/index/index?scene=s");
        let (_, headers, _) = send_raw(&app, "POST", &other, &[], scene).await;
        assert_eq!(header_of(&headers, header::CONTENT_TYPE), "image/png", "another app");

        send(&app, "POST", "/mock/wxacode-errors", r#"{"appid": "wxr", "errcode": -1, "times": 1}"#).await;
        assert_error(&wechat(&app, "POST", &uri, scene).await, -1, "system error");

        for bad in [
            "nope",
            r#"{"appid": "", "errcode": 45009, "times": 1}"#,
            r#"{"appid": "wxr", "errcode": 0, "times": 1}"#,
            r#"{"appid": "wxr", "errcode": 45009}"#,
            r#"{"appid": "wxr", "errcode": 45009, "times": -1}"#,
        ] {
            let (status, content_type, body) = send(&app, "POST", "/mock/wxacode-errors", bad).await;
            assert_eq!((status.as_u16(), content_type.as_str()), (400, "application/json"), "{bad}");
            assert!(parse(&body)["error"].is_string(), "{body}");
        }

        // An app registered with its own pages.
        let shop = r#"{"appid": "wxshop", "secret": "s", "pages": ["pages/home/home"]}"#;
        let (status, ..) = send(&app, "POST", "/mock/apps", shop).await;
        assert_eq!(status.as_u16(), 200);
        let shop_uri = format!("{PATH}?access_token={}", server_token(&app, "wxshop").await);
        let (_, _, png) = send_raw(&app, "POST", &shop_uri, &[], scene).await;
        assert_eq!(decode(&png), "pages/home/home?scene=s");
        let scan = r#"{"scene": "s", "page": "pages/scan/scan"}"#;
        assert_error(&wechat(&app, "POST", &shop_uri, scan).await, 41030, "invalid page");
        let (status, ..) = send(&app, "POST", "/mock/apps", r#"{"appid": "wxshop", "secret": "s", "pages": []}"#).await;
        assert_eq!(status.as_u16(), 400);

        let (_, _, calls) = send(&app, "GET", "/mock/calls?appid=wxr", "").await;
        assert_eq!(parse(&calls)["getwxacodeunlimit"], 6);
    }
}

//! The HTML pages wxauth serves (the sign-in and consent page, the logout confirmation and
//! "signed out", the device verification page, the error page), rendered by
//! askama from `shared/templates/`: compiled with the crate, and every value is HTML-escaped
//! unless a template says `|safe` (only the constant [`STYLE`] does). askama rather than maud:
//! the pages stay HTML files a designer can read, and one base layout carries the head, the
//! style and the language for the pages the coming sign-in methods add.
//!
//! Server-rendered, one `<style>` element allowed by its hash, no JavaScript but the scan
//! sign-in's polling (allowed by its hash, with a fallback that works without it); readable
//! without CSS; in zh-CN and en ([`Locale`]).

mod device;
mod error_page;
pub mod locale;
mod logout;
mod scan_wait;
mod sign_in;
pub mod text;

use std::sync::LazyLock;

use askama::Template;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderName, HeaderValue, StatusCode};
use sha2::{Digest, Sha256};

use crate::http::{Body, Response};

pub use device::{DevicePage, DeviceStep};
pub use error_page::{ErrorPage, Problem};
pub use locale::Locale;
pub use logout::{ConfirmLogout, ConfirmLogoutPage, SignedOutPage};
pub use scan_wait::ScanWaitPage;
pub use sign_in::{ScanPanel, ScopeLine, SignInForm, SignInPage, WechatOffer};

/// The pages' only styling. Its exact bytes are hashed into the CSP: the `<style>` element of
/// `base.html` carries this constant and nothing else, and no element has a `style` attribute.
pub const STYLE: &str = include_str!("../../templates/page.css");

/// The pages' only script: the scan sign-in's polling (a sign-in page with a mini-program code
/// carries it; everything works without it). Allowed by its hash, as [`STYLE`].
pub const SCAN_SCRIPT: &str = include_str!("../../templates/scan.js");

/// `'sha256-…'`: the CSP hash source of `text` (CSP Level 2 §4.2.4).
fn hash_source(text: &str) -> String {
    format!("'sha256-{}'", STANDARD.encode(Sha256::digest(text.as_bytes())))
}

/// No `form-action`: Chrome and Safari check it against the redirect a form submission
/// answers too (w3c/webappsec-csp#8), and an approve or deny is answered by a redirect to the
/// client's `redirect_uri`, so `form-action 'self'` would block every sign-in there. The form's
/// action is ours and escaped, and nothing here can inject another form.
/// Images and the poll come from this origin only (the code image is served by wxauth).
static CSP: LazyLock<String> = LazyLock::new(|| {
    format!(
        "default-src 'none'; style-src {}; script-src {}; img-src 'self'; connect-src 'self'; \
         frame-ancestors 'none'; base-uri 'none'",
        hash_source(STYLE),
        hash_source(SCAN_SCRIPT)
    )
});

/// Headers every page response carries (names in lowercase, as HTTP/2 sends them).
pub fn page_headers() -> Vec<(&'static str, String)> {
    vec![
        ("content-type", "text/html; charset=utf-8".to_owned()),
        ("cache-control", "no-store".to_owned()),
        ("pragma", "no-cache".to_owned()),
        ("x-frame-options", "DENY".to_owned()),
        ("content-security-policy", CSP.clone()),
        ("x-content-type-options", "nosniff".to_owned()),
        ("referrer-policy", "no-referrer".to_owned()),
        // The page's words depend on it (the locale falls back to Accept-Language).
        ("vary", "Accept-Language".to_owned()),
    ]
}

/// The error page of `problem` in `locale`, with `status`.
pub fn error_response(status: u16, locale: Locale, problem: Problem) -> Response {
    html_response(status, &ErrorPage::new(locale, &problem))
}

/// The page for a backend fault (503 with `Retry-After`, 502, 500), its cause logged once as
/// every handler logs it, never shown.
pub fn backend_error_response(e: crate::error::Error, locale: Locale) -> Response {
    let told = e.to_oauth();
    let _ = crate::http::respond(Err(e));
    let mut res = error_response(told.status, locale, Problem::Unavailable);
    if let Some(seconds) = told.retry_after {
        res.headers_mut().insert(http::header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    res
}

/// A page response: `status`, [`page_headers`], and the rendered page.
pub fn html_response(status: u16, page: &impl Template) -> Response {
    // Rendering fails only if a value's `Display` fails; ours are strings.
    let html = page.render().unwrap_or_else(|e| {
        tracing::error!(error = %e, "a page failed to render");
        String::from("<!doctype html><title>Error</title>")
    });
    let mut res = Response::new(Body::Text(html));
    *res.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = res.headers_mut();
    for (name, value) in page_headers() {
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(&value)) {
            headers.insert(name, value);
        }
    }
    res
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn header(name: &str) -> String {
        page_headers().into_iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).unwrap().1
    }

    #[test]
    fn headers_carry_the_security_policy() {
        assert_eq!(header("Content-Type"), "text/html; charset=utf-8");
        assert_eq!(header("Cache-Control"), "no-store");
        assert_eq!(header("Pragma"), "no-cache");
        assert_eq!(header("X-Frame-Options"), "DENY");
        assert_eq!(header("X-Content-Type-Options"), "nosniff");
        assert_eq!(header("Referrer-Policy"), "no-referrer");
        let csp = header("Content-Security-Policy");
        assert!(csp.contains("default-src 'none'"));
        assert!(csp.contains("frame-ancestors 'none'"));
        assert!(csp.contains("base-uri 'none'"));
        assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"));
        assert!(csp.contains("img-src 'self'") && csp.contains("connect-src 'self'"));
        assert!(!csp.contains("form-action"), "would block the redirect to redirect_uri in Chrome");
    }

    #[test]
    fn html_response_has_status_headers_and_body() {
        let res = html_response(
            400,
            &ErrorPage::new(Locale::En, &Problem::Request(crate::oauth::authorization::Unredirectable::UnknownClient)),
        );
        assert_eq!(res.status(), 400);
        for (name, value) in page_headers() {
            assert_eq!(res.headers().get(name).unwrap().to_str().unwrap(), value, "{name}");
        }
        match res.body() {
            Body::Text(html) => assert!(html.contains("<h1>Unknown application</h1>")),
            _ => panic!("expected a text body"),
        }
    }

    /// The text of the one `<style>` element.
    pub(super) fn style_block(html: &str) -> &str {
        assert_eq!(html.matches("<style>").count(), 1);
        let start = html.find("<style>").unwrap() + "<style>".len();
        let end = html[start..].find("</style>").unwrap() + start;
        &html[start..end]
    }

    /// What every page must be, in every language: a whole document, phone-sized, no script but
    /// the one the CSP allows, and its one style block the one the CSP allows.
    pub(super) fn assert_well_formed_page(html: &str, locale: Locale) {
        assert!(html.starts_with("<!doctype html>"), "{html}");
        assert!(html.contains(&format!("<html lang=\"{}\">", locale.tag())));
        assert!(html.contains("<meta charset=\"utf-8\">"));
        assert!(html.contains("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"));
        let without_allowed_script = html.replace(&format!("<script>{SCAN_SCRIPT}</script>"), "");
        assert!(!without_allowed_script.to_lowercase().contains("<script"));
        let digest = STANDARD.encode(Sha256::digest(SCAN_SCRIPT.as_bytes()));
        assert!(header("Content-Security-Policy").contains(&format!("script-src 'sha256-{digest}'")));
        assert!(!html.contains(" style="), "style attributes would be blocked by the CSP");
        assert_eq!(style_block(html), STYLE);
        let digest = STANDARD.encode(Sha256::digest(style_block(html).as_bytes()));
        assert!(header("Content-Security-Policy").contains(&format!("style-src 'sha256-{digest}'")));
    }
}

//! The HTML of `GET|POST /oauth/authorize`: the sign-in and consent page, and the error page for
//! requests that must not redirect. Server-rendered, no JavaScript, one inline `<style>` block
//! allowed by its hash; readable without CSS. Everything echoed goes through [`escape`].

use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use lambda_http::http::{HeaderName, HeaderValue, StatusCode};
use sha2::{Digest, Sha256};
use wxauth::http::{Body, Response};

/// What the consent page shows and carries.
pub struct SignIn<'a> {
    /// The client's display name.
    pub client_name: &'a str,
    pub client_id: &'a str,
    /// Requested scopes, each shown as a list item.
    pub scopes: &'a [String],
    /// Hidden field `request_id`.
    pub request_id: &'a str,
    /// Hidden field `csrf_token`.
    pub csrf_token: &'a str,
    /// Prefilled after a failed attempt.
    pub username: Option<&'a str>,
    /// Shown above the form, e.g. "Wrong username or password."
    pub error: Option<&'a str>,
    /// The form's action URL path, e.g. "/oauth/authorize".
    pub action: &'a str,
}

/// The page's only styling. Its exact bytes are hashed into the CSP: the `<style>` element
/// carries this constant and nothing else, and no element has a `style` attribute.
const STYLE: &str = "\
:root{color-scheme:light dark;font-family:system-ui,-apple-system,\"PingFang SC\",\"Microsoft YaHei\",sans-serif;line-height:1.4}\
body{margin:0;padding:1rem}\
main{max-width:24rem;margin:8vh auto 0;padding:1.5rem;border:1px solid #8885;border-radius:12px}\
h1{font-size:1.25rem;margin:0}\
.zh,.id{margin:.25rem 0 0;opacity:.7}\
.id{font-size:.8rem;word-break:break-all}\
ul{padding-left:1.25rem}\
.error{padding:.5rem .75rem;border-radius:6px;background:#e5434333}\
label{display:block;margin-top:.75rem}\
input{box-sizing:border-box;width:100%;margin-top:.25rem;padding:.6rem;font-size:1rem}\
.buttons{display:flex;gap:.5rem;margin-top:1.25rem}\
button{flex:1;padding:.7rem;font-size:1rem;border:1px solid #8887;border-radius:6px}\
button[value=approve]{background:#07c160;border-color:#07c160;color:#fff}";

/// `'sha256-…'`: the CSP hash source of [`STYLE`] (CSP Level 2 §4.2.4).
fn style_hash_source() -> String {
    format!("'sha256-{}'", STANDARD.encode(Sha256::digest(STYLE.as_bytes())))
}

/// No `form-action`: Chrome and Safari check it against the redirect a form submission
/// answers too (w3c/webappsec-csp#8), and an approve or deny is answered by a redirect to the
/// client's `redirect_uri`, so `form-action 'self'` would block every sign-in there. The form's
/// action is ours and escaped, and nothing here can inject another form.
static CSP: LazyLock<String> = LazyLock::new(|| {
    format!("default-src 'none'; style-src {}; frame-ancestors 'none'; base-uri 'none'", style_hash_source())
});

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole document around `main`, whose content must already be escaped; `title` is escaped here.
fn document(title: &str, main: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n{main}</main>\n</body>\n</html>\n",
        escape(title)
    )
}

/// The sign-in and consent page: a POST form with username and password, the hidden
/// `request_id` and `csrf_token`, and two submit buttons named `decision` (`approve`, `deny`).
/// Enter in a field submits `approve`, the first button; `deny` skips the `required` checks.
pub fn sign_in_page(p: &SignIn) -> String {
    let name = escape(p.client_name);
    let mut main = format!(
        "<h1><strong>{name}</strong> wants to sign you in</h1>\n\
         <p class=\"zh\" lang=\"zh-CN\">登录并授权</p>\n\
         <p class=\"id\">Client ID: {}</p>\n",
        escape(p.client_id)
    );
    if !p.scopes.is_empty() {
        main.push_str("<p>It asks for:</p>\n<ul>\n");
        for scope in p.scopes {
            main.push_str(&format!("<li>{}</li>\n", escape(scope)));
        }
        main.push_str("</ul>\n");
    }
    if let Some(error) = p.error {
        main.push_str(&format!("<p class=\"error\" role=\"alert\">{}</p>\n", escape(error)));
    }
    let (username_value, focus_username, focus_password) = match p.username {
        Some(u) if !u.is_empty() => (format!(" value=\"{}\"", escape(u)), "", " autofocus"),
        _ => (String::new(), " autofocus", ""),
    };
    main.push_str(&format!(
        "<form method=\"post\" action=\"{action}\">\n\
         <input type=\"hidden\" name=\"request_id\" value=\"{request_id}\">\n\
         <input type=\"hidden\" name=\"csrf_token\" value=\"{csrf_token}\">\n\
         <label for=\"username\">Username</label>\n\
         <input id=\"username\" name=\"username\" type=\"text\" autocomplete=\"username\" \
         autocapitalize=\"none\" spellcheck=\"false\" required{username_value}{focus_username}>\n\
         <label for=\"password\">Password</label>\n\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" \
         required{focus_password}>\n\
         <div class=\"buttons\">\n\
         <button type=\"submit\" name=\"decision\" value=\"approve\">Sign in and allow</button>\n\
         <button type=\"submit\" name=\"decision\" value=\"deny\" formnovalidate>Deny</button>\n\
         </div>\n</form>\n",
        action = escape(p.action),
        request_id = escape(p.request_id),
        csrf_token = escape(p.csrf_token),
    ));
    document(&format!("Sign in · {}", p.client_name), &main)
}

/// An error page for requests that must not redirect (unknown client, unregistered
/// redirect_uri, bad request id): a title and a message, both escaped.
pub fn error_page(title: &str, message: &str) -> String {
    let main = format!("<h1>{}</h1>\n<p>{}</p>\n", escape(title), escape(message));
    document(title, &main)
}

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
    ]
}

/// A page response: `status`, [`page_headers`], and the HTML body.
pub fn html_response(status: u16, html: String) -> Response {
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

    const XSS: &str = "<script>alert(1)</script>";
    const ATTR: &str = "\"onmouseover=alert(1) x='";

    fn scopes() -> Vec<String> {
        vec!["openid".to_owned(), "profile".to_owned()]
    }

    fn page(p: impl FnOnce(&mut SignIn)) -> String {
        let scopes = scopes();
        let mut s = SignIn {
            client_name: "Demo App",
            client_id: "wx1234567890",
            scopes: &scopes,
            request_id: "req-1",
            csrf_token: "csrf-1",
            username: None,
            error: None,
            action: "/oauth/authorize",
        };
        p(&mut s);
        sign_in_page(&s)
    }

    fn header(name: &str) -> String {
        page_headers().into_iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).unwrap().1
    }

    /// The text of the one `<style>` element.
    fn style_block(html: &str) -> &str {
        assert_eq!(html.matches("<style>").count(), 1);
        let start = html.find("<style>").unwrap() + "<style>".len();
        let end = html[start..].find("</style>").unwrap() + start;
        &html[start..end]
    }

    #[test]
    fn escape_replaces_the_five_special_characters() {
        assert_eq!(escape(r#"a & b < c > d " e ' f"#), "a &amp; b &lt; c &gt; d &quot; e &#39; f");
        assert_eq!(escape("&amp;"), "&amp;amp;");
    }

    #[test]
    fn escape_keeps_plain_and_unicode_text() {
        assert_eq!(escape("微信 Demo-App_1"), "微信 Demo-App_1");
        assert_eq!(escape(""), "");
    }

    #[test]
    fn sign_in_page_escapes_the_client_name() {
        let html = page(|s| s.client_name = XSS);
        assert!(!html.contains(XSS));
        assert!(!html.contains("<script"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    }

    #[test]
    fn sign_in_page_escapes_every_echoed_field() {
        let bad_scopes = vec![XSS.to_owned(), ATTR.to_owned()];
        let html = sign_in_page(&SignIn {
            client_name: ATTR,
            client_id: XSS,
            scopes: &bad_scopes,
            request_id: ATTR,
            csrf_token: ATTR,
            username: Some(ATTR),
            error: Some(XSS),
            action: ATTR,
        });
        assert!(!html.contains(XSS));
        assert!(!html.contains("<script"));
        assert!(!html.contains("\"onmouseover="));
        assert!(!html.contains("x='"));
        let escaped = escape(ATTR);
        assert!(html.contains(&format!("name=\"request_id\" value=\"{escaped}\"")));
        assert!(html.contains(&format!("name=\"csrf_token\" value=\"{escaped}\"")));
        assert!(html.contains(&format!("action=\"{escaped}\"")));
        assert!(html.contains(&format!("value=\"{escaped}\"")));
        assert!(html.contains(&format!("<li>{}</li>", escape(XSS))));
    }

    #[test]
    fn sign_in_page_escapes_username_and_request_id_attributes() {
        let html = page(|s| {
            s.username = Some("\"onmouseover=alert(1)");
            s.request_id = "\"onmouseover=alert(2)";
        });
        assert!(!html.contains("\"onmouseover="));
        assert!(html.contains("value=\"&quot;onmouseover=alert(1)\""));
        assert!(html.contains("value=\"&quot;onmouseover=alert(2)\""));
    }

    #[test]
    fn sign_in_page_has_the_form_fields_and_both_decisions() {
        let html = page(|_| {});
        assert!(html.contains("<form method=\"post\" action=\"/oauth/authorize\">"));
        assert!(html.contains("<input type=\"hidden\" name=\"request_id\" value=\"req-1\">"));
        assert!(html.contains("<input type=\"hidden\" name=\"csrf_token\" value=\"csrf-1\">"));
        assert!(html.contains("name=\"username\" type=\"text\" autocomplete=\"username\""));
        assert!(html.contains("name=\"password\" type=\"password\" autocomplete=\"current-password\""));
        let approve = html.find("name=\"decision\" value=\"approve\"").unwrap();
        let deny = html.find("name=\"decision\" value=\"deny\"").unwrap();
        assert!(approve < deny, "Enter must submit approve, the first button");
        assert_eq!(html.matches("type=\"submit\" name=\"decision\"").count(), 2);
        assert!(html.contains("<strong>Demo App</strong> wants to sign you in"));
        assert!(html.contains("<li>openid</li>\n<li>profile</li>"));
    }

    #[test]
    fn sign_in_page_shows_error_and_prefills_username_only_when_given() {
        let plain = page(|_| {});
        assert!(!plain.contains("role=\"alert\""));
        assert!(!plain.contains("name=\"username\" type=\"text\" autocomplete=\"username\" autocapitalize=\"none\" spellcheck=\"false\" required value="));
        let retry = page(|s| {
            s.username = Some("alice");
            s.error = Some("Wrong username or password.");
        });
        assert!(retry.contains("<p class=\"error\" role=\"alert\">Wrong username or password.</p>"));
        assert!(retry.contains("required value=\"alice\">"));
        assert!(retry.find("role=\"alert\"").unwrap() < retry.find("<form").unwrap());
        assert!(retry.contains("autocomplete=\"current-password\" required autofocus>"));
    }

    #[test]
    fn sign_in_page_without_scopes_has_no_list() {
        let html = sign_in_page(&SignIn {
            client_name: "A",
            client_id: "b",
            scopes: &[],
            request_id: "r",
            csrf_token: "c",
            username: None,
            error: None,
            action: "/oauth/authorize",
        });
        assert!(!html.contains("<ul>"));
    }

    #[test]
    fn pages_are_mobile_friendly_and_script_free() {
        for html in [page(|_| {}), error_page("t", "m")] {
            assert!(html.starts_with("<!doctype html>"));
            assert!(html.contains("<meta charset=\"utf-8\">"));
            assert!(html.contains("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"));
            assert!(!html.to_lowercase().contains("<script"));
            assert!(!html.contains(" style="), "style attributes would be blocked by the CSP");
            assert_eq!(style_block(&html), STYLE);
        }
    }

    #[test]
    fn error_page_escapes_title_and_message() {
        let html = error_page(XSS, ATTR);
        assert!(!html.contains(XSS));
        assert!(!html.contains("<script"));
        assert!(!html.contains("\"onmouseover="));
        assert!(html.contains(&format!("<h1>{}</h1>", escape(XSS))));
        assert!(html.contains(&format!("<title>{}</title>", escape(XSS))));
        assert!(html.contains(&format!("<p>{}</p>", escape(ATTR))));
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
        assert!(!csp.contains("unsafe-inline"));
        assert!(!csp.contains("form-action"), "would block the redirect to redirect_uri in Chrome");
    }

    #[test]
    fn csp_style_hash_matches_the_rendered_style_block() {
        let csp = header("Content-Security-Policy");
        for html in [page(|_| {}), error_page("t", "m")] {
            let digest = STANDARD.encode(Sha256::digest(style_block(&html).as_bytes()));
            assert!(csp.contains(&format!("style-src 'sha256-{digest}'")), "{csp}");
        }
    }

    #[test]
    fn html_response_has_status_headers_and_body() {
        let res = html_response(400, error_page("Unknown client", "No such client."));
        assert_eq!(res.status(), 400);
        for (name, value) in page_headers() {
            assert_eq!(res.headers().get(name).unwrap().to_str().unwrap(), value, "{name}");
        }
        assert_eq!(res.headers().get("X-Frame-Options").unwrap(), "DENY");
        match res.body() {
            Body::Text(html) => assert!(html.contains("<h1>Unknown client</h1>")),
            _ => panic!("expected a text body"),
        }
    }
}

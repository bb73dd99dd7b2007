//! The connection front of the local server: every request head is read and checked here
//! before hyper parses it, so that what hyper would refuse with a bare status and an empty body
//! (a raw control character in the target, a NUL in a header, a 100 KB query, too many headers)
//! is answered as the routes answer their errors: JSON `invalid_request`, or the HTML error page
//! on `/oauth/authorize` (API.md, general rules). API Gateway does this part in production.
//!
//! One request per connection (hyper's keep-alive off): each request's head passes through here.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::TcpStream;
use wxauth::error::OAuthError;
use wxauth::oauth::authorization::Unredirectable;
use wxauth::pages::{self, ErrorPage, Locale, Problem};

/// A request head larger than this is refused (431).
const MAX_HEAD: usize = 64 * 1024;
/// A request target longer than this is refused (414): API Gateway's own limit is lower.
const MAX_TARGET: usize = 16 * 1024;
const MAX_HEADERS: usize = 100;
/// How long a client may take to send its head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves one connection: checks the head, then hands the connection (head included) to hyper.
pub async fn serve(mut stream: TcpStream, router: axum::Router) {
    let head = match tokio::time::timeout(HEAD_TIMEOUT, read_head(&mut stream)).await {
        Ok(Ok(head)) => head,
        Ok(Err(_)) | Err(_) => return, // the client went away, or never sent a head
    };
    if let Err(refusal) = check(&head) {
        let _ = stream.write_all(&refusal).await;
        let _ = stream.shutdown().await;
        return;
    }
    // The peer's address, for the routes to see as API Gateway's sourceIp.
    let router = match stream.peer_addr() {
        Ok(peer) => router.layer(axum::Extension(ConnectInfo(peer))),
        Err(_) => router,
    };
    let io = hyper_util::rt::TokioIo::new(Prefixed { prefix: head, read: 0, inner: stream });
    let service = hyper_util::service::TowerToHyperService::new(router);
    let _ = hyper::server::conn::http1::Builder::new().keep_alive(false).serve_connection(io, service).await;
}

/// The bytes up to the end of the head (`\r\n\r\n`), or all there is once the client stops
/// sending, at most [`MAX_HEAD`] + 1.
async fn read_head(stream: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(4096);
    let mut chunk = [0u8; 8192];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() <= MAX_HEAD {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&chunk[..n]);
    }
    Ok(head)
}

/// `Ok` when hyper may have the request; else the whole HTTP response that refuses it.
fn check(head: &[u8]) -> Result<(), Vec<u8>> {
    let target = raw_target(head);
    let refuse = |status: u16, why: &str| Err(refusal(&target, status, why));
    if target.len() > MAX_TARGET {
        return refuse(414, "the request target is too long");
    }
    let end = head.windows(4).position(|w| w == b"\r\n\r\n").map(|at| at + 4);
    if end.is_none_or(|end| end > MAX_HEAD) {
        return if head.len() > MAX_HEAD {
            refuse(431, "the request head is too large")
        } else {
            refuse(400, "the request head is incomplete")
        };
    }
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    match httparse::Request::new(&mut headers).parse(head) {
        Ok(httparse::Status::Complete(_)) => Ok(()),
        Ok(httparse::Status::Partial) => refuse(400, "the request head is incomplete"),
        Err(httparse::Error::TooManyHeaders) => refuse(431, "too many header fields"),
        Err(e) => refuse(400, &format!("malformed request: {e}")),
    }
}

/// The request target as sent (up to the next space or line end), for choosing the error's form.
fn raw_target(head: &[u8]) -> String {
    let line = head.split(|b| *b == b'\n').next().unwrap_or_default();
    let target = line.split(|b| *b == b' ').nth(1).unwrap_or_default();
    String::from_utf8_lossy(target).into_owned()
}

/// An error answered before a handler runs, in the form the route answers its own: the HTML
/// error page on `/oauth/authorize`, JSON `invalid_request` everywhere else.
pub fn route_error(target: &str, status: u16, description: &str) -> wxauth::http::Response {
    if target.starts_with("/oauth/authorize") {
        let problem = match status {
            413 => Problem::TooLarge,
            _ => Unredirectable::Malformed(description.to_string()).into(),
        };
        pages::html_response(status, &ErrorPage::new(Locale::En, &problem))
    } else {
        let error = OAuthError::invalid_request(description.to_string()).with_status(status);
        wxauth::http::error_response(&error)
    }
}

/// The route's own error, as raw HTTP/1.1 with `Connection: close`.
fn refusal(target: &str, status: u16, description: &str) -> Vec<u8> {
    let (parts, body) = route_error(target, status, description).into_parts();
    let mut raw =
        format!("HTTP/1.1 {} {}\r\n", parts.status.as_u16(), parts.status.canonical_reason().unwrap_or("Error"))
            .into_bytes();
    for (name, value) in &parts.headers {
        raw.extend_from_slice(name.as_str().as_bytes());
        raw.extend_from_slice(b": ");
        raw.extend_from_slice(value.as_bytes());
        raw.extend_from_slice(b"\r\n");
    }
    let body = body.as_ref();
    raw.extend_from_slice(format!("content-length: {}\r\nconnection: close\r\n\r\n", body.len()).as_bytes());
    raw.extend_from_slice(body);
    raw
}

/// A stream that first yields the bytes already read from it.
struct Prefixed {
    prefix: Vec<u8>,
    read: usize,
    inner: TcpStream,
}

impl AsyncRead for Prefixed {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.read < this.prefix.len() {
            let n = buf.remaining().min(this.prefix.len() - this.read);
            buf.put_slice(&this.prefix[this.read..this.read + n]);
            this.read += n;
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Prefixed {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status_and_body(raw: &[u8]) -> (String, String) {
        let text = String::from_utf8_lossy(raw);
        let status = text.lines().next().unwrap_or_default().to_string();
        let body = text.split("\r\n\r\n").nth(1).unwrap_or_default().to_string();
        (status, body)
    }

    #[test]
    fn a_well_formed_head_goes_to_hyper() {
        assert!(check(b"GET /userinfo HTTP/1.1\r\nhost: x\r\n\r\n").is_ok());
    }

    #[test]
    fn a_control_character_in_the_target_is_a_json_invalid_request() {
        let refused = check(b"GET /oauth/token?a=\x01 HTTP/1.1\r\nhost: x\r\n\r\n").expect_err("refused");
        let (status, body) = status_and_body(&refused);
        assert!(status.starts_with("HTTP/1.1 400"), "{status}");
        let json: serde_json::Value = serde_json::from_str(&body).expect("a JSON body");
        assert_eq!(json["error"], "invalid_request");
    }

    #[test]
    fn a_nul_in_a_header_on_the_authorization_endpoint_is_the_html_error_page() {
        let refused =
            check(b"GET /oauth/authorize?x=1 HTTP/1.1\r\nhost: x\r\nx-a: b\x00c\r\n\r\n").expect_err("refused");
        let (status, body) = status_and_body(&refused);
        assert!(status.starts_with("HTTP/1.1 400"), "{status}");
        assert!(body.contains("<html"), "{body}");
    }

    #[test]
    fn a_huge_target_is_414_and_a_huge_head_431() {
        // As read: at most MAX_HEAD and one chunk of a 100 KB target.
        let long = format!("GET /oauth/token?q={} HTTP/1.1\r\nhost: x\r\n\r\n", "a".repeat(100_000));
        let (status, body) = status_and_body(&check(&long.as_bytes()[..MAX_HEAD + 1]).expect_err("refused"));
        assert!(status.starts_with("HTTP/1.1 414"), "{status}");
        assert!(body.contains("invalid_request"));
        let header = format!("GET /oauth/token HTTP/1.1\r\nx-big: {}\r\n\r\n", "a".repeat(70_000));
        let (status, _) = status_and_body(&check(&header.as_bytes()[..MAX_HEAD + 1]).expect_err("refused"));
        assert!(status.starts_with("HTTP/1.1 431"), "{status}");
    }
}

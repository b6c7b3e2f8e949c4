//! The opening handshake (RFC 6455 §4.2): parse the request head, check every
//! requirement with the status the RFC or HTTP asks for, apply the origin and
//! subprotocol policy, and write the 101 (or error) response.

use std::net::{IpAddr, SocketAddr};

use base64::Engine;

use crate::handler::HttpResponse;
use crate::options::{KeepHeaders, Options};
use crate::request::Request;

const MAX_HEADERS: usize = 64;
const WS_GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The outcome of reading a request head.
#[derive(Debug)]
pub(crate) enum Parsed {
    /// The head is not complete yet.
    Partial,
    /// A valid upgrade: the request (all headers), the accept key, the negotiated
    /// subprotocol and the head's length in the buffer.
    Upgrade { request: Request, accept_key: String, head_len: usize },
    /// A well-formed HTTP request that is not an upgrade (goes to the HTTP handler).
    Plain { request: Request },
    /// Refused with this response (400, 403, 405, 426, 431, 505).
    Refuse(HttpResponse),
}

fn refuse(status: u16, why: &str) -> Parsed {
    Parsed::Refuse(HttpResponse::new(status, format!("{why}\n")).header("Content-Type", "text/plain"))
}

pub(crate) fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Does a comma-separated header list contain `token` (case-insensitive)?
fn list_has(value: &str, token: &str) -> bool {
    value.split(',').any(|t| t.trim().eq_ignore_ascii_case(token))
}

pub(crate) fn parse(buf: &[u8], opts: &Options, remote: SocketAddr) -> Parsed {
    let mut storage = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut storage);
    let head_len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            if buf.len() > opts.limits.max_request_head {
                return refuse(431, "request head too large");
            }
            return Parsed::Partial;
        }
        Err(httparse::Error::TooManyHeaders) => return refuse(431, "too many request headers"),
        Err(e) => return refuse(400, &format!("malformed request: {e}")),
    };
    if head_len > opts.limits.max_request_head {
        return refuse(431, "request head too large");
    }
    if req.version != Some(1) {
        return Parsed::Refuse(HttpResponse::new(505, "HTTP/1.1 required\n"));
    }
    let method = req.method.unwrap_or("");
    let target = req.path.unwrap_or("");
    if !target.starts_with('/') {
        return refuse(400, "request target must be an absolute path");
    }
    let mut headers: Vec<(Box<str>, Box<str>)> = Vec::with_capacity(req.headers.len());
    for h in req.headers.iter() {
        let Ok(v) = std::str::from_utf8(h.value) else {
            return refuse(400, "header values must be text");
        };
        headers.push((h.name.to_ascii_lowercase().into_boxed_str(), v.trim().into()));
    }
    let path_len = target.find('?').unwrap_or(target.len());
    let client_ip = client_ip(&headers, remote, &opts.trusted_proxies);
    let request = Request {
        method: method.into(),
        target: target.into(),
        path_len,
        headers,
        subprotocol: None,
        extensions: None,
        remote_addr: remote,
        client_ip,
    };
    let h = |n: &str| request.header(n);
    let wants_upgrade = h("upgrade").is_some_and(|v| list_has(v, "websocket"));
    if !wants_upgrade {
        return Parsed::Plain { request };
    }
    if method != "GET" {
        return Parsed::Refuse(
            HttpResponse::new(405, "WebSocket upgrades use GET\n").header("Allow", "GET"),
        );
    }
    if request.headers.iter().filter(|(n, _)| &**n == "host").count() != 1 {
        return refuse(400, "exactly one Host header is required");
    }
    if !h("connection").is_some_and(|v| list_has(v, "upgrade")) {
        return refuse(400, "Connection header must contain Upgrade");
    }
    if h("sec-websocket-version").map(str::trim) != Some("13") {
        return Parsed::Refuse(
            HttpResponse::new(426, "unsupported Sec-WebSocket-Version (13 expected)\n")
                .header("Sec-WebSocket-Version", "13"),
        );
    }
    let key = match h("sec-websocket-key") {
        Some(k) if request.headers.iter().filter(|(n, _)| &**n == "sec-websocket-key").count() == 1 => k,
        _ => return refuse(400, "exactly one Sec-WebSocket-Key header is required"),
    };
    match base64::engine::general_purpose::STANDARD.decode(key) {
        Ok(raw) if raw.len() == 16 => {}
        _ => return refuse(400, "Sec-WebSocket-Key must be 16 bytes in base64"),
    }
    if let Some(origin) = h("origin") {
        if !origin_allowed(origin, &opts.origins) {
            return refuse(403, "origin not allowed");
        }
    }
    let accept_key = accept_key(key);
    let mut request = request;
    request.subprotocol = choose_subprotocol(&request, &opts.subprotocols).map(Into::into);
    Parsed::Upgrade { request, accept_key, head_len }
}

/// `base64(sha1(key + GUID))` (RFC 6455 §4.2.2).
pub(crate) fn accept_key(key: &str) -> String {
    let mut sha = sha1_smol::Sha1::new();
    sha.update(key.as_bytes());
    sha.update(WS_GUID);
    base64::engine::general_purpose::STANDARD.encode(sha.digest().bytes())
}

/// The server's most preferred subprotocol among those the client offered.
fn choose_subprotocol(request: &Request, ours: &[String]) -> Option<String> {
    ours.iter()
        .find(|p| request.offered_subprotocols().any(|o| o == p.as_str()))
        .cloned()
}

/// Origin allow-list: exact match, `*`, or one `*` standing for any run of characters
/// (`https://*.example.com`). Case-insensitive (scheme and host are).
pub(crate) fn origin_allowed(origin: &str, patterns: &[String]) -> bool {
    if patterns.is_empty() {
        return true;
    }
    let origin = origin.to_ascii_lowercase();
    patterns.iter().any(|p| {
        let p = p.to_ascii_lowercase();
        match p.split_once('*') {
            None => p == origin,
            Some((pre, post)) => {
                origin.len() >= pre.len() + post.len() && origin.starts_with(pre) && origin.ends_with(post)
            }
        }
    })
}

fn client_ip(headers: &[(Box<str>, Box<str>)], remote: SocketAddr, trusted: &[IpAddr]) -> IpAddr {
    let peer = remote.ip();
    if !trusted.contains(&peer) {
        return peer;
    }
    let get = |n: &str| headers.iter().find(|(k, _)| &**k == n).map(|(_, v)| &**v);
    // X-Forwarded-For: client, proxy1, proxy2 — walk from the right past trusted proxies.
    if let Some(xff) = get("x-forwarded-for") {
        for hop in xff.rsplit(',') {
            match hop.trim().parse::<IpAddr>() {
                Ok(ip) if trusted.contains(&ip) => continue,
                Ok(ip) => return ip,
                Err(_) => break,
            }
        }
    }
    get("x-real-ip").and_then(|v| v.trim().parse().ok()).unwrap_or(peer)
}

/// Keeps only the headers the options ask to keep.
/// The request a connection keeps: only the headers the options name (taken by value so
/// nothing is copied).
pub(crate) fn kept(mut r: Request, keep: &KeepHeaders) -> Request {
    match keep {
        KeepHeaders::All => {}
        KeepHeaders::None => r.headers = Vec::new(),
        KeepHeaders::Names(names) => {
            r.headers.retain(|(n, _)| names.iter().any(|k| k.eq_ignore_ascii_case(n)));
            r.headers.shrink_to_fit();
        }
    }
    r
}

pub(crate) fn write_101(out: &mut Vec<u8>, accept_key: &str, subprotocol: Option<&str>, extra: &[(String, String)]) {
    out.extend_from_slice(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ");
    out.extend_from_slice(accept_key.as_bytes());
    out.extend_from_slice(b"\r\n");
    if let Some(p) = subprotocol {
        out.extend_from_slice(b"Sec-WebSocket-Protocol: ");
        out.extend_from_slice(p.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    write_headers(out, extra);
    out.extend_from_slice(b"\r\n");
}

fn write_headers(out: &mut Vec<u8>, headers: &[(String, String)]) {
    for (n, v) in headers {
        // Header injection guard: a CR or LF would end the header early.
        if n.bytes().all(is_token_byte) && !v.bytes().any(|b| b == b'\r' || b == b'\n') {
            out.extend_from_slice(n.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(v.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }
}

pub(crate) fn write_response(out: &mut Vec<u8>, resp: &HttpResponse, head_only: bool) {
    use std::io::Write;
    let _ = write!(out, "HTTP/1.1 {} {}\r\n", resp.status, reason_phrase(resp.status));
    write_headers(out, &resp.headers);
    let _ = write!(out, "Content-Length: {}\r\nConnection: close\r\n\r\n", resp.body.len());
    if !head_only {
        out.extend_from_slice(&resp.body);
    }
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Status",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> Options {
        Options::default()
    }
    fn remote() -> SocketAddr {
        "127.0.0.1:5000".parse().unwrap()
    }
    const GOOD: &str = "GET /chat?room=1 HTTP/1.1\r\nHost: x\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: a, chat\r\n\r\n";

    fn status(p: Parsed) -> u16 {
        match p {
            Parsed::Refuse(r) => r.status,
            Parsed::Upgrade { .. } => 101,
            Parsed::Plain { .. } => 0,
            Parsed::Partial => 1,
        }
    }

    #[test]
    fn rfc_example_accept_key() {
        assert_eq!(accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn good_request_upgrades_with_path_query_and_subprotocol() {
        let mut o = opts();
        o.subprotocols = vec!["chat".into(), "a".into()];
        match parse(GOOD.as_bytes(), &o, remote()) {
            Parsed::Upgrade { request, head_len, .. } => {
                assert_eq!(request.path(), "/chat");
                assert_eq!(request.query(), "room=1");
                assert_eq!(request.subprotocol(), Some("chat"));
                assert_eq!(head_len, GOOD.len());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn each_bad_header_gets_its_status() {
        let cases = [
            (GOOD.replace("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8"), 426),
            (GOOD.replace("dGhlIHNhbXBsZSBub25jZQ==", "c2hvcnQ="), 400),
            (GOOD.replace("Connection: keep-alive, Upgrade", "Connection: keep-alive"), 400),
            (GOOD.replace("Host: x\r\n", ""), 400),
            (GOOD.replace("GET", "POST"), 405),
            (GOOD.replace("HTTP/1.1", "HTTP/1.0"), 505),
            ("GARBAGE\r\n\r\n".to_string(), 400),
        ];
        for (req, want) in cases {
            assert_eq!(status(parse(req.as_bytes(), &opts(), remote())), want, "{req}");
        }
    }

    #[test]
    fn partial_then_too_large() {
        assert_eq!(status(parse(&GOOD.as_bytes()[..30], &opts(), remote())), 1);
        let big = format!("GET / HTTP/1.1\r\nX: {}\r\n", "a".repeat(9000));
        assert_eq!(status(parse(big.as_bytes(), &opts(), remote())), 431);
    }

    #[test]
    fn origins() {
        let pats = vec!["https://app.example".to_string(), "https://*.example.com".to_string()];
        assert!(origin_allowed("https://app.example", &pats));
        assert!(origin_allowed("HTTPS://a.b.example.com", &pats));
        assert!(!origin_allowed("https://example.com", &pats));
        assert!(!origin_allowed("https://evil.example", &pats));
        assert!(origin_allowed("anything", &[]));
        assert!(origin_allowed("anything", &["*".to_string()]));
    }

    #[test]
    fn trusted_proxy_forwarded_for() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let hs = vec![("x-forwarded-for".into(), "1.2.3.4, 10.0.0.1".into())];
        let from_proxy = SocketAddr::new(proxy, 1);
        assert_eq!(client_ip(&hs, from_proxy, &[proxy]).to_string(), "1.2.3.4");
        assert_eq!(client_ip(&hs, remote(), &[proxy]), remote().ip());
    }

    #[test]
    fn cookie_lookup() {
        let req = GOOD.replace("\r\n\r\n", "\r\nCookie: a=1; user=jonny\r\n\r\n");
        match parse(req.as_bytes(), &opts(), remote()) {
            Parsed::Upgrade { request, .. } => assert_eq!(request.cookie("user"), Some("jonny")),
            other => panic!("{other:?}"),
        }
    }
}

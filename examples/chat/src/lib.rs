//! The chat demo. Rooms are tags (`room:<name>`), people are tags too (`user:<name>`), so
//! a room message is one `send_text_by_tag` and a private message is
//! `send_text_by_tag("user:jonnywhatshisface", …)`, as libwebsock 2.0 promised. The
//! page (`page.html`) is served by the same server through `Handler::on_http`.
//!
//! Wire protocol (text frames, one command each):
//! `/nick NAME`, `/join ROOM`, `/msg NAME TEXT`, `/who`, anything else is said in the
//! current room. The server answers with JSON objects:
//! `{"type":"say"|"private"|"system", "room":…, "from":…, "text":…}`.

use websock::{CloseInfo, Conn, Handler, HttpResponse, Message, Request, Server};

const PAGE: &str = include_str!("page.html");

/// What the server remembers about one person (kept as the connection's user data).
struct Person {
    name: String,
    room: String,
}

pub struct Chat;

/// JSON string escaping (the demo has no serde dependency).
fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn event(kind: &str, room: &str, from: &str, text: &str) -> String {
    format!(
        "{{\"type\":{},\"room\":{},\"from\":{},\"text\":{}}}",
        json_str(kind),
        json_str(room),
        json_str(from),
        json_str(text)
    )
}

fn valid_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 32 && s.chars().all(|c| c.is_alphanumeric() || "-_.".contains(c))
}

fn person<'a>(conn: &'a Conn<'_>) -> &'a Person {
    conn.user_data().and_then(|d| d.downcast_ref::<Person>()).expect("set in on_open")
}

impl Chat {
    fn system(conn: &mut Conn<'_>, text: &str) {
        let room = person(conn).room.clone();
        conn.send_text(&event("system", &room, "server", text));
    }

    fn to_room(conn: &Conn<'_>, room: &str, kind: &str, from: &str, text: &str) {
        let _ = conn.server().send_text_by_tag(&format!("room:{room}"), &event(kind, room, from, text));
    }

    fn join(conn: &mut Conn<'_>, room: &str) {
        let (name, old) = {
            let p = person(conn);
            (p.name.clone(), p.room.clone())
        };
        if !old.is_empty() {
            let _ = conn.untag(&format!("room:{old}"));
            Self::to_room(conn, &old, "system", "server", &format!("{name} left"));
        }
        let _ = conn.tag(&format!("room:{room}"));
        if let Some(p) = conn.user_data_mut().and_then(|d| d.downcast_mut::<Person>()) {
            p.room = room.to_string();
        }
        let n = conn.server().count_by_tag(&format!("room:{room}"));
        Self::to_room(conn, room, "system", "server", &format!("{name} joined ({n} here)"));
    }
}

impl Handler for Chat {
    fn on_http(&self, request: &Request) -> HttpResponse {
        match request.path() {
            "/" | "/index.html" => HttpResponse::new(200, PAGE).header("Content-Type", "text/html; charset=utf-8"),
            _ => HttpResponse::new(404, "not found\n"),
        }
    }

    fn on_open(&self, conn: &mut Conn<'_>) {
        let name = format!("guest{}", conn.id().to_raw() % 100_000);
        let _ = conn.tag(&format!("user:{name}"));
        conn.set_user_data(Some(Box::new(Person { name: name.clone(), room: String::new() })));
        Self::join(conn, "lobby");
        Self::system(conn, &format!("you are {name}; /nick NAME, /join ROOM, /msg NAME TEXT, /who"));
    }

    fn on_message(&self, conn: &mut Conn<'_>, msg: Message<'_>) {
        let Message::Text(text) = msg else {
            return Self::system(conn, "text only, please");
        };
        let text = text.trim();
        let (name, room) = {
            let p = person(conn);
            (p.name.clone(), p.room.clone())
        };
        if let Some(new) = text.strip_prefix("/nick ").map(str::trim) {
            if !valid_name(new) {
                return Self::system(conn, "a name is 1-32 letters, digits, - _ .");
            }
            if conn.server().count_by_tag(&format!("user:{new}")) > 0 {
                return Self::system(conn, &format!("{new} is taken"));
            }
            let _ = conn.untag(&format!("user:{name}"));
            let _ = conn.tag(&format!("user:{new}"));
            if let Some(p) = conn.user_data_mut().and_then(|d| d.downcast_mut::<Person>()) {
                p.name = new.to_string();
            }
            Self::to_room(conn, &room, "system", "server", &format!("{name} is now {new}"));
        } else if let Some(r) = text.strip_prefix("/join ").map(str::trim) {
            if !valid_name(r) {
                return Self::system(conn, "a room is 1-32 letters, digits, - _ .");
            }
            Self::join(conn, r);
        } else if let Some(rest) = text.strip_prefix("/msg ") {
            let Some((to, body)) = rest.trim().split_once(' ') else {
                return Self::system(conn, "usage: /msg NAME TEXT");
            };
            let n = conn.server().send_text_by_tag(&format!("user:{to}"), &event("private", &room, &name, body)).unwrap_or(0);
            if n == 0 {
                return Self::system(conn, &format!("nobody called {to}"));
            }
            conn.send_text(&event("private", &room, &name, &format!("(to {to}) {body}")));
        } else if text == "/who" {
            let n = conn.server().count_by_tag(&format!("room:{room}"));
            Self::system(conn, &format!("{n} in {room}"));
        } else if !text.is_empty() {
            Self::to_room(conn, &room, "say", &name, text);
        }
    }

    fn on_close(&self, conn: &mut Conn<'_>, _info: &CloseInfo) {
        // The tags went with the connection; tell the room.
        if let Some(p) = conn.user_data().and_then(|d| d.downcast_ref::<Person>()) {
            let (name, room) = (p.name.clone(), p.room.clone());
            Self::to_room(conn, &room, "system", "server", &format!("{name} left"));
        }
    }
}

/// Starts the chat server on `addr`. Browsers offer permessage-deflate; the demo takes it
/// in shared mode (no memory per connection) for messages of 128 bytes and more.
pub fn start(addr: &str) -> websock::Result<Server> {
    let mut compression = websock::Compression::shared();
    compression.threshold = 128;
    Server::builder().listen(addr).compression(compression).start(Chat)
}

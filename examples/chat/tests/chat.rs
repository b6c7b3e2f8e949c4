//! The demo with real clients: the page is served, rooms are separate, private
//! messages reach only their addressee, leaving is announced.

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn next_text(ws: &mut Ws) -> String {
    loop {
        let m = tokio::time::timeout(std::time::Duration::from_secs(5), ws.next()).await.unwrap().unwrap().unwrap();
        if let Message::Text(t) = m {
            return t.to_string();
        }
    }
}

/// Reads until a message containing `needle` arrives.
async fn until(ws: &mut Ws, needle: &str) -> String {
    loop {
        let t = next_text(ws).await;
        if t.contains(needle) {
            return t;
        }
    }
}

#[tokio::test]
async fn rooms_private_messages_and_the_page() {
    let server = websock_chat::start("127.0.0.1:0").unwrap();
    let addr = server.local_addr();

    let page = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    })
    .await
    .unwrap();
    assert!(page.starts_with("HTTP/1.1 200") && page.contains("new WebSocket("), "{page}");

    let url = format!("ws://{addr}/chat");
    let (mut a, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let (mut b, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let (mut c, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    for (ws, name) in [(&mut a, "alice"), (&mut b, "bob"), (&mut c, "carol")] {
        until(ws, "you are").await;
        ws.send(Message::text(format!("/nick {name}"))).await.unwrap();
        until(ws, &format!("is now {name}")).await;
    }
    c.send(Message::text("/join kitchen")).await.unwrap();
    until(&mut c, "carol joined").await;

    a.send(Message::text("hello lobby \"quoted\"")).await.unwrap();
    let got = until(&mut b, "hello lobby").await;
    assert!(got.contains(r#""from":"alice""#) && got.contains(r#"\"quoted\""#), "{got}");

    b.send(Message::text("/msg carol psst")).await.unwrap();
    let got = until(&mut c, "psst").await;
    assert!(got.contains(r#""type":"private""#) && got.contains(r#""from":"bob""#), "{got}");

    // Carol is in another room: she must not see lobby chatter; her next message is the
    // kitchen one she says herself.
    a.send(Message::text("lobby only")).await.unwrap();
    c.send(Message::text("kitchen talk")).await.unwrap();
    let got = next_text(&mut c).await;
    assert!(got.contains("kitchen talk"), "carol got {got}");

    b.close(None).await.unwrap();
    until(&mut a, "bob left").await;
    server.shutdown(std::time::Duration::from_secs(2));
}

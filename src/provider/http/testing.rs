//! The one HTTP server every provider's unit tests run against, on
//! 127.0.0.1. It speaks HTTP/1.1 by hand so it can also give the replies a
//! framework would not: redirects, bodies far larger than any reply, bytes
//! that are not HTTP, a hang-up, and a second host that must never be
//! reached. Every request is recorded ([`Seen`]) before it is answered.
//!
//! Three ways to answer: [`serve`] gives every request the same answer,
//! [`scripted`] gives scripted replies in order, and [`responding`] lets a
//! test decide per request (WAHA's tests hold some contacts back).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A scripted reply: a status, headers and a body.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl Reply {
    pub fn new(status: u16, body: impl Into<String>) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }
}

/// One request as the server received it.
#[derive(Debug)]
pub(crate) struct Seen {
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// When its head had arrived.
    pub at: Instant,
}

impl Seen {
    /// A header's value, if it is there and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as JSON; `Null` when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// What the server writes back to every request.
#[derive(Clone)]
pub(crate) enum Answer {
    /// A status line such as `307 Temporary Redirect`, headers and a body.
    Fixed {
        status: &'static str,
        headers: Vec<(&'static str, String)>,
        body: Vec<u8>,
    },
    /// `200 OK` with this many bytes of JSON-looking filler, sent in chunks;
    /// with `Content-Length` when `declared`, chunked encoding otherwise.
    Huge { bytes: usize, declared: bool },
    /// These bytes, as soon as the first bytes of a request arrive: how a
    /// plain HTTP server answers a TLS ClientHello. Then the connection closes.
    Raw(&'static [u8]),
    /// Nothing: the connection is closed as soon as a request arrives.
    Hangup,
    /// A scripted reply.
    Reply(Reply),
}

impl From<Reply> for Answer {
    fn from(reply: Reply) -> Answer {
        Answer::Reply(reply)
    }
}

impl Answer {
    pub fn ok(body: &str) -> Answer {
        Answer::Fixed {
            status: "200 OK",
            headers: Vec::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    pub fn redirect(status: &'static str, to: &str) -> Answer {
        Answer::Fixed {
            status,
            headers: vec![("Location", to.to_string())],
            body: Vec::new(),
        }
    }
}

/// How a server answers: the answer to a request, given what was seen.
type Respond =
    Arc<dyn Fn(&Seen) -> std::pin::Pin<Box<dyn Future<Output = Answer> + Send>> + Send + Sync>;

pub(crate) struct Server {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// Every request received, head and body, as text.
    pub requests: Mutex<Vec<String>>,
    /// Every request received, read.
    pub seen: Mutex<Vec<Seen>>,
}

impl Server {
    pub fn hits(&self) -> usize {
        self.requests.lock().unwrap().len()
    }
}

/// Serve `answer` to every request until the test ends.
pub(crate) async fn serve(answer: Answer) -> Arc<Server> {
    start(Arc::new(move |_: &Seen| {
        let answer = answer.clone();
        Box::pin(async move { answer })
    }))
    .await
}

/// Serve `replies` in order, then `otherwise` to every further request.
pub(crate) async fn scripted(replies: Vec<Reply>, otherwise: Reply) -> Arc<Server> {
    let replies = Mutex::new(VecDeque::from(replies));
    start(Arc::new(move |_: &Seen| {
        let next = replies.lock().unwrap().pop_front();
        let answer = Answer::Reply(next.unwrap_or_else(|| otherwise.clone()));
        Box::pin(async move { answer })
    }))
    .await
}

/// Answer each request with what `respond` makes of it; it may wait first.
pub(crate) async fn responding<F, Fut>(respond: F) -> Arc<Server>
where
    F: Fn(&Seen) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Answer> + Send + 'static,
{
    start(Arc::new(move |seen: &Seen| Box::pin(respond(seen)))).await
}

async fn start(respond: Respond) -> Arc<Server> {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = Arc::new(Server {
        base,
        requests: Mutex::new(Vec::new()),
        seen: Mutex::new(Vec::new()),
    });
    let serving = server.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (respond, server) = (respond.clone(), serving.clone());
            tokio::spawn(async move {
                // A client that hangs up mid-reply is what some tests expect.
                let _ = reply(stream, respond, server).await;
            });
        }
    });
    server
}

async fn reply(
    mut stream: TcpStream,
    respond: Respond,
    server: Arc<Server>,
) -> std::io::Result<()> {
    let (text, seen) = read_request(&mut stream).await?;
    // A request that is not HTTP (a TLS ClientHello) still counts, and the
    // raw answer is what is written back to it.
    let seen = seen.unwrap_or_else(|| Seen {
        method: Method::default(),
        uri: Uri::default(),
        headers: HeaderMap::new(),
        body: Bytes::new(),
        at: Instant::now(),
    });
    let answer = respond(&seen).await;
    server.requests.lock().unwrap().push(text);
    server.seen.lock().unwrap().push(seen);
    match answer {
        Answer::Raw(bytes) => stream.write_all(bytes).await?,
        Answer::Hangup => {}
        Answer::Reply(Reply {
            status,
            headers,
            body,
        }) => {
            let reason = StatusCode::from_u16(status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("");
            let mut head = format!("HTTP/1.1 {status} {reason}\r\nConnection: close\r\n");
            for (name, value) in headers {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
            head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(body.as_bytes()).await?;
        }
        Answer::Fixed {
            status,
            headers,
            body,
        } => {
            let mut head = format!("HTTP/1.1 {status}\r\nConnection: close\r\n");
            for (name, value) in headers {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
            head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(&body).await?;
        }
        Answer::Huge { bytes, declared } => {
            let length = if declared {
                format!("Content-Length: {bytes}")
            } else {
                "Transfer-Encoding: chunked".to_string()
            };
            let head = format!("HTTP/1.1 200 OK\r\nConnection: close\r\n{length}\r\n\r\n");
            stream.write_all(head.as_bytes()).await?;
            let piece = vec![b' '; 64 * 1024];
            let mut left = bytes;
            while left > 0 {
                let n = left.min(piece.len());
                if !declared {
                    stream.write_all(format!("{n:x}\r\n").as_bytes()).await?;
                }
                stream.write_all(&piece[..n]).await?;
                if !declared {
                    stream.write_all(b"\r\n").await?;
                }
                left -= n;
            }
            if !declared {
                stream.write_all(b"0\r\n\r\n").await?;
            }
        }
    }
    stream.flush().await
}

/// The request head, then as many body bytes as `Content-Length` says:
/// as text, and read when it is HTTP. Bytes that are not an HTTP request
/// (a TLS ClientHello) come back as text after the first read.
async fn read_request(stream: &mut TcpStream) -> std::io::Result<(String, Option<Seen>)> {
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok((String::from_utf8_lossy(&bytes).into_owned(), None));
        }
        bytes.extend_from_slice(&buf[..n]);
        if let Some(at) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        if !bytes.is_ascii() {
            return Ok((String::from_utf8_lossy(&bytes).into_owned(), None));
        }
    };
    let at = Instant::now();
    let head = String::from_utf8_lossy(&bytes[..head_end]).into_owned();
    let mut lines = head.lines();
    let mut start = lines.next().unwrap_or_default().split(' ');
    let method = start.next().unwrap_or_default().parse().unwrap_or_default();
    let uri = start.next().unwrap_or_default().parse().unwrap_or_default();
    let mut headers = HeaderMap::new();
    for (name, value) in lines.filter_map(|line| line.split_once(':')) {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.trim().as_bytes()),
            HeaderValue::from_str(value.trim()),
        ) {
            headers.append(name, value);
        }
    }
    let length: usize = headers
        .get("content-length")
        .and_then(|value| value.to_str().ok()?.parse().ok())
        .unwrap_or(0);
    while bytes.len() < head_end + length {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        bytes.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let body = Bytes::copy_from_slice(&bytes[head_end..]);
    let seen = Seen {
        method,
        uri,
        headers,
        body,
        at,
    };
    Ok((text, Some(seen)))
}

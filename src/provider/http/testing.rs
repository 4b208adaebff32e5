//! A raw HTTP/1.1 server on 127.0.0.1 for the replies the scripted axum
//! servers cannot easily give: redirects, bodies far larger than any reply,
//! and a second host that must never be reached. Every client's tests use it.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

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

pub(crate) struct Server {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// Every request received, head and body, as text.
    pub requests: Arc<Mutex<Vec<String>>>,
}

impl Server {
    pub fn hits(&self) -> usize {
        self.requests.lock().unwrap().len()
    }
}

/// Serve `answer` to every request until the test ends.
pub(crate) async fn serve(answer: Answer) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = requests.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (answer, seen) = (answer.clone(), seen.clone());
            tokio::spawn(async move {
                // A client that hangs up mid-reply is what some tests expect.
                let _ = reply(stream, answer, seen).await;
            });
        }
    });
    Server { base, requests }
}

async fn reply(
    mut stream: TcpStream,
    answer: Answer,
    seen: Arc<Mutex<Vec<String>>>,
) -> std::io::Result<()> {
    if let Answer::Raw(bytes) = answer {
        let mut buf = [0u8; 4096];
        let n = stream.read(&mut buf).await?;
        seen.lock()
            .unwrap()
            .push(String::from_utf8_lossy(&buf[..n]).into_owned());
        stream.write_all(bytes).await?;
        return stream.flush().await;
    }
    let request = read_request(&mut stream).await?;
    seen.lock().unwrap().push(request);
    match answer {
        Answer::Raw(_) | Answer::Hangup => {}
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

/// The request head, then as many body bytes as `Content-Length` says.
async fn read_request(stream: &mut TcpStream) -> std::io::Result<String> {
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(String::from_utf8_lossy(&bytes).into_owned());
        }
        bytes.extend_from_slice(&buf[..n]);
        if let Some(at) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&bytes[..head_end]).to_lowercase();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0);
    while bytes.len() < head_end + length {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        bytes.extend_from_slice(&buf[..n]);
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

//! A GET-only HTTP/1.1 client for kubelets, read in the task that scrapes.
//!
//! Every node's scrape is one request on a kept connection, repeated every tick. A general client
//! runs each connection in a task of its own and hands the body over a channel: two tasks woken per
//! read, a read buffer kept per idle connection. Here the scraping task writes the request, parses the
//! head and reads the body itself, through one buffer that lives only as long as the response. The
//! framing (`Content-Length`, chunked, or until close) is parsed by pure steps tested byte by byte.

use std::io;
use std::ops::Range;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// What a connection is carried over: TCP, or TLS over TCP.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Read buffer of one response; also the largest response head accepted.
const BUF: usize = 32 * 1024;
/// Headers read of a response head (a kubelet sends about five).
const MAX_HEADERS: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// Nothing of a response came back: the peer closed (or reset) the connection first. On a
    /// connection kept from an earlier request this is the race with the peer's idle close, and the
    /// request may be repeated on a new one.
    #[error("connection closed before a response{}", .0.as_ref().map(|e| format!(": {e}")).unwrap_or_default())]
    Unanswered(Option<io::Error>),
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("connection closed before the end of the response")]
    Truncated,
    #[error("malformed response: {0}")]
    Malformed(&'static str),
}

/// Whether `path` can be written as the target of a request line: an absolute path of visible ASCII
/// (a space or line break would end the line and let the rest be read as headers).
pub fn is_request_target(path: &str) -> bool {
    path.starts_with('/') && path.bytes().all(|b| b.is_ascii_graphic())
}

/// A connection to one endpoint; every request asks for the same path ([`is_request_target`]).
pub struct Conn {
    io: Box<dyn Io>,
    /// Request line, `Host` and `User-Agent`: the same for every request on this connection.
    head: Vec<u8>,
}

impl Conn {
    pub fn new(io: impl Io + 'static, path: &str, authority: &str, user_agent: &str) -> Conn {
        let head = format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: {user_agent}\r\n").into_bytes();
        Conn { io: Box::new(io), head }
    }

    /// Whether an idle connection can still carry a request: the peer has not closed it and has sent
    /// nothing unasked. Only looks at what has already arrived; never waits.
    pub fn is_idle_and_open(&mut self) -> bool {
        use futures::FutureExt as _;
        let mut probe = [0u8; 1];
        // Pending: nothing arrived, the connection is as it was left.
        self.io.read(&mut probe).now_or_never().is_none()
    }

    /// Sends a GET with an optional `Authorization` value and reads the response head.
    pub async fn get(&mut self, authorization: Option<&[u8]>) -> Result<Response<'_>, HttpError> {
        let mut req = Vec::with_capacity(self.head.len() + authorization.map_or(0, |a| a.len() + 20) + 2);
        req.extend_from_slice(&self.head);
        if let Some(a) = authorization {
            req.extend_from_slice(b"Authorization: ");
            req.extend_from_slice(a);
            req.extend_from_slice(b"\r\n");
        }
        req.extend_from_slice(b"\r\n");
        let sent = async {
            self.io.write_all(&req).await?;
            self.io.flush().await
        };
        sent.await.map_err(|e| HttpError::Unanswered(Some(e)))?;

        let mut buf = vec![0u8; BUF];
        let mut end = 0;
        loop {
            let n = match self.io.read(&mut buf[end..]).await {
                Ok(n) => n,
                Err(e) if end == 0 => return Err(HttpError::Unanswered(Some(e))),
                Err(e) => return Err(e.into()),
            };
            if n == 0 {
                return Err(if end == 0 { HttpError::Unanswered(None) } else { HttpError::Truncated });
            }
            end += n;
            match parse_head(&buf[..end])? {
                Some((head, len)) if head.status >= 100 && head.status < 200 => {
                    // An interim answer (`100 Continue`): the real one follows.
                    buf.copy_within(len..end, 0);
                    end -= len;
                }
                Some((head, len)) => {
                    let body = Body::new(head.framing);
                    let done = body.is_done();
                    return Ok(Response {
                        status: head.status,
                        reason: head.reason,
                        keep_alive: head.keep_alive,
                        conn: self,
                        buf,
                        pos: len,
                        end,
                        body,
                        done,
                    });
                }
                None if end == buf.len() => return Err(HttpError::Malformed("response head larger than 32 KiB")),
                None => {}
            }
        }
    }
}

/// A response being read; its body comes in pieces from [`Response::chunk`].
pub struct Response<'c> {
    pub status: u16,
    pub reason: String,
    keep_alive: bool,
    conn: &'c mut Conn,
    buf: Vec<u8>,
    /// `buf[pos..end]`: read and not yet used.
    pos: usize,
    end: usize,
    body: Body,
    done: bool,
}

impl Response<'_> {
    /// The next piece of the body; `None` at its end.
    pub async fn chunk(&mut self) -> Result<Option<&[u8]>, HttpError> {
        loop {
            if self.done {
                return Ok(None);
            }
            if self.pos == self.end {
                let n = self.conn.io.read(&mut self.buf).await?;
                if n == 0 {
                    if matches!(self.body, Body::UntilClose) {
                        self.done = true;
                        return Ok(None);
                    }
                    return Err(HttpError::Truncated);
                }
                (self.pos, self.end) = (0, n);
            }
            let (used, data) = self.body.step(&self.buf[self.pos..self.end])?;
            let at = self.pos;
            self.pos += used;
            self.done = self.body.is_done();
            if !data.is_empty() {
                return Ok(Some(&self.buf[at + data.start..at + data.end]));
            }
        }
    }

    /// Whether the connection can carry the next request: the whole body was read, the peer keeps the
    /// connection open, and sent nothing after the body.
    pub fn reusable(&self) -> bool {
        self.done && self.keep_alive && self.pos == self.end && !matches!(self.body, Body::UntilClose)
    }
}

/// The parts of a response head the client acts on.
#[derive(Debug, PartialEq, Eq)]
pub struct Head {
    pub status: u16,
    pub reason: String,
    pub framing: Framing,
    pub keep_alive: bool,
}

/// How the end of a body is known (RFC 9112 section 6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    Length(u64),
    Chunked,
    UntilClose,
}

/// Parses a response head at the start of `buf`; `None` if it is not complete yet. Returns the head and
/// its length.
pub fn parse_head(buf: &[u8]) -> Result<Option<(Head, usize)>, HttpError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut r = httparse::Response::new(&mut headers);
    let len = match r.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(HttpError::Malformed("more than 64 headers")),
        Err(_) => return Err(HttpError::Malformed("not an HTTP/1.x response head")),
    };
    let status = r.code.unwrap_or(0);
    let http11 = r.version == Some(1);
    let (mut length, mut chunked, mut other_coding) = (None, false, false);
    let (mut close, mut keep_alive) = (false, false);
    for h in r.headers.iter() {
        let value = std::str::from_utf8(h.value).unwrap_or("");
        if h.name.eq_ignore_ascii_case("content-length") {
            let n: u64 = value.trim().parse().map_err(|_| HttpError::Malformed("invalid Content-Length"))?;
            if length.is_some_and(|l| l != n) {
                return Err(HttpError::Malformed("conflicting Content-Length headers"));
            }
            length = Some(n);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            // Only the last coding says how the body ends; a body not chunked last runs until close.
            for coding in value.split(',').map(str::trim).filter(|c| !c.is_empty()) {
                chunked = coding.eq_ignore_ascii_case("chunked");
                other_coding = !chunked;
            }
        } else if h.name.eq_ignore_ascii_case("connection") {
            for token in value.split(',').map(str::trim) {
                close |= token.eq_ignore_ascii_case("close");
                keep_alive |= token.eq_ignore_ascii_case("keep-alive");
            }
        }
    }
    // No body: 1xx, 204 and 304 answers.
    let framing = if (100..200).contains(&status) || status == 204 || status == 304 {
        Framing::Length(0)
    } else if chunked {
        Framing::Chunked
    } else if other_coding {
        Framing::UntilClose
    } else {
        length.map_or(Framing::UntilClose, Framing::Length)
    };
    let head = Head {
        status,
        reason: r.reason.unwrap_or("").to_string(),
        framing,
        keep_alive: !close && (http11 || keep_alive),
    };
    Ok(Some((head, len)))
}

/// Where the body reader is in the body.
#[derive(Debug)]
enum Body {
    Length(u64),
    UntilClose,
    Chunked(Chunked),
}

impl Body {
    fn new(framing: Framing) -> Body {
        match framing {
            Framing::Length(n) => Body::Length(n),
            Framing::UntilClose => Body::UntilClose,
            Framing::Chunked => Body::Chunked(Chunked::default()),
        }
    }

    fn is_done(&self) -> bool {
        match self {
            Body::Length(n) => *n == 0,
            Body::UntilClose => false,
            Body::Chunked(c) => c.is_done(),
        }
    }

    /// Takes what it can of `input`: the bytes used, and where the body's data is among them.
    fn step(&mut self, input: &[u8]) -> Result<(usize, Range<usize>), HttpError> {
        match self {
            Body::Length(n) => {
                let k = input.len().min(usize::try_from(*n).unwrap_or(usize::MAX));
                *n -= k as u64;
                Ok((k, 0..k))
            }
            Body::UntilClose => Ok((input.len(), 0..input.len())),
            Body::Chunked(c) => c.step(input),
        }
    }
}

/// The chunked transfer coding, decoded a step at a time.
#[derive(Debug, Default)]
pub struct Chunked {
    state: ChunkState,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    /// In the hex size of the next chunk (`digits` read so far).
    #[default]
    Size0,
    Size {
        size: u64,
        digits: u8,
    },
    /// After the size: `;name=value` extensions or whitespace, up to the CR.
    Extension {
        size: u64,
    },
    SizeLf {
        size: u64,
    },
    Data {
        left: u64,
    },
    DataCr,
    DataLf,
    /// At the start of a trailer line (after the last chunk).
    TrailerStart,
    Trailer,
    TrailerLf,
    EndLf,
    Done,
}

impl Chunked {
    pub fn is_done(&self) -> bool {
        self.state == ChunkState::Done
    }

    /// Takes bytes of `input` up to the end of the next piece of data (or of the body, or of the
    /// input): the bytes used, and where that data is among them (empty if none).
    pub fn step(&mut self, input: &[u8]) -> Result<(usize, Range<usize>), HttpError> {
        use ChunkState::*;
        let mut i = 0;
        while i < input.len() {
            if let Data { left } = self.state {
                let k = (input.len() - i).min(usize::try_from(left).unwrap_or(usize::MAX));
                self.state = if left == k as u64 { DataCr } else { Data { left: left - k as u64 } };
                return Ok((i + k, i..i + k));
            }
            let b = input[i];
            i += 1;
            self.state = match (self.state, b) {
                (Done, _) => return Ok((i - 1, 0..0)),
                (Size0, _) => match hex(b) {
                    Some(d) => Size { size: d, digits: 1 },
                    None => return Err(HttpError::Malformed("chunk size is not hexadecimal")),
                },
                (Size { size, digits }, _) if hex(b).is_some() => {
                    if digits == 16 {
                        return Err(HttpError::Malformed("chunk size too large"));
                    }
                    Size { size: (size << 4) | hex(b).unwrap_or(0), digits: digits + 1 }
                }
                (Size { size, .. } | Extension { size }, b'\r') => SizeLf { size },
                (Size { size, .. }, b';' | b' ' | b'\t') | (Extension { size }, _) => Extension { size },
                (Size { .. }, _) => return Err(HttpError::Malformed("chunk size is not hexadecimal")),
                (SizeLf { size: 0 }, b'\n') => TrailerStart,
                (SizeLf { size }, b'\n') => Data { left: size },
                (DataCr, b'\r') => DataLf,
                (DataLf, b'\n') => Size0,
                (TrailerStart, b'\r') => EndLf,
                (Trailer, b'\r') => TrailerLf,
                (TrailerStart | Trailer, _) => Trailer,
                (TrailerLf, b'\n') => TrailerStart,
                (EndLf, b'\n') => Done,
                (SizeLf { .. } | DataCr | DataLf | TrailerLf | EndLf, _) => {
                    return Err(HttpError::Malformed("chunk framing without CRLF"));
                }
                (Data { .. }, _) => unreachable!("data is taken above"),
            };
            if self.state == Done {
                return Ok((i, 0..0));
            }
        }
        Ok((i, 0..0))
    }
}

fn hex(b: u8) -> Option<u64> {
    (b as char).to_digit(16).map(u64::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` split at `at` through a body reader; returns the body and the bytes left after it.
    fn read_body(framing: Framing, input: &[u8], split: &[usize]) -> Result<(Vec<u8>, usize), HttpError> {
        let mut body = Body::new(framing);
        let mut out = Vec::new();
        let mut pieces = Vec::new();
        let mut last = 0;
        for &s in split.iter().chain([input.len()].iter()) {
            pieces.push(&input[last..s]);
            last = s;
        }
        let mut used_total = 0;
        for piece in pieces {
            let mut p = piece;
            while !p.is_empty() && !body.is_done() {
                let (used, data) = body.step(p)?;
                out.extend_from_slice(&p[data]);
                used_total += used;
                p = &p[used..];
            }
        }
        Ok((out, input.len() - used_total))
    }

    const CHUNKED: &[u8] = b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\n";

    #[test]
    fn chunked_bodies_decode_the_same_split_anywhere() {
        for a in 0..=CHUNKED.len() {
            for b in a..=CHUNKED.len() {
                let (body, left) = read_body(Framing::Chunked, CHUNKED, &[a, b]).unwrap();
                assert_eq!((body.as_slice(), left), (&b"hello, world"[..], 0), "split at {a}, {b}");
            }
        }
        // Whatever follows the body is not taken.
        let mut more = CHUNKED.to_vec();
        more.extend_from_slice(b"HTTP/1.1 200");
        let (body, left) = read_body(Framing::Chunked, &more, &[]).unwrap();
        assert_eq!((body.as_slice(), left), (&b"hello, world"[..], 12));
        // Upper-case hex, a body with no trailer.
        let (body, _) = read_body(Framing::Chunked, b"A\r\n0123456789\r\n0\r\n\r\n", &[]).unwrap();
        assert_eq!(body, b"0123456789");
    }

    #[test]
    fn broken_chunk_framing_is_an_error() {
        for bad in [&b"x\r\n"[..], b"5\r\nhelloXX", b"5\nhello\r\n", b"11111111111111111\r\n", b"\r\n", b"0\r\n\r\r"] {
            assert!(read_body(Framing::Chunked, bad, &[]).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn only_visible_absolute_paths_are_request_targets() {
        assert!(is_request_target("/metrics/resource") && is_request_target("/m?x=%20&y=1"));
        for bad in ["", "metrics", "/a b", "/a\r\nX-Injected: 1", "/caf\u{e9}"] {
            assert!(!is_request_target(bad), "{bad:?}");
        }
    }

    #[test]
    fn length_bodies_stop_at_their_length() {
        let (body, left) = read_body(Framing::Length(5), b"hello world", &[2]).unwrap();
        assert_eq!((body.as_slice(), left), (&b"hello"[..], 6));
        let (body, left) = read_body(Framing::UntilClose, b"all of it", &[4]).unwrap();
        assert_eq!((body.as_slice(), left), (&b"all of it"[..], 0));
    }

    fn head(text: &str) -> Head {
        parse_head(text.as_bytes()).unwrap().unwrap().0
    }

    #[test]
    fn heads_say_how_the_body_ends_and_whether_the_connection_stays() {
        let h = head("HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nbody");
        assert_eq!(h, Head { status: 200, reason: "OK".into(), framing: Framing::Length(12), keep_alive: true });
        let h = head("HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, Chunked\r\nContent-Length: 3\r\n\r\n");
        assert_eq!(h.framing, Framing::Chunked);
        assert_eq!(head("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n").framing, Framing::UntilClose);
        assert_eq!(head("HTTP/1.1 200 OK\r\n\r\n").framing, Framing::UntilClose);
        assert_eq!(head("HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n").framing, Framing::Length(0));
        assert!(!head("HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 0\r\n\r\n").keep_alive);
        assert!(!head("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").keep_alive);
        assert!(head("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n").keep_alive);
        let h = head("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n");
        assert_eq!((h.status, h.reason.as_str()), (401, "Unauthorized"));
        // The head's length is where the body begins.
        let text = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody";
        assert_eq!(parse_head(text).unwrap().unwrap().1, text.len() - 4);
    }

    #[test]
    fn partial_and_broken_heads() {
        assert!(parse_head(b"HTTP/1.1 200 OK\r\nContent-Le").unwrap().is_none());
        for bad in [
            "SSH-2.0-OpenSSH\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        ] {
            assert!(matches!(parse_head(bad.as_bytes()), Err(HttpError::Malformed(_))), "{bad}");
        }
        let many = format!("HTTP/1.1 200 OK\r\n{}\r\n", "X-A: b\r\n".repeat(65));
        assert!(matches!(parse_head(many.as_bytes()), Err(HttpError::Malformed(_))));
    }

    /// A peer on the other end of an in-memory pipe that answers with `answer` once it has the request.
    async fn exchange(answer: &'static [u8], pieces: usize) -> (Vec<u8>, Result<(u16, Vec<u8>, bool), HttpError>) {
        let (client, mut server) = tokio::io::duplex(64);
        let peer = tokio::spawn(async move {
            let mut req = Vec::new();
            let mut b = [0u8; 256];
            while !req.ends_with(b"\r\n\r\n") {
                let n = server.read(&mut b).await.unwrap();
                req.extend_from_slice(&b[..n]);
            }
            let step = answer.len().div_ceil(pieces.max(1)).max(1);
            for piece in answer.chunks(step) {
                server.write_all(piece).await.unwrap();
                tokio::task::yield_now().await;
            }
            // Keep the pipe open: a close would end an until-close body.
            (req, server)
        });
        let mut conn = Conn::new(client, "/metrics/resource", "10.0.0.1:10250", "ua/1");
        let got = async {
            let mut r = conn.get(Some(b"Bearer t")).await?;
            let mut body = Vec::new();
            while let Some(c) = r.chunk().await? {
                body.extend_from_slice(c);
            }
            Ok((r.status, body, r.reusable()))
        }
        .await;
        let (req, _server) = peer.await.unwrap();
        (req, got)
    }

    #[tokio::test]
    async fn a_request_and_its_answer_over_a_connection() {
        let (req, got) = exchange(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 3).await;
        assert_eq!(
            String::from_utf8(req).unwrap(),
            "GET /metrics/resource HTTP/1.1\r\nHost: 10.0.0.1:10250\r\nUser-Agent: ua/1\r\n\
             Authorization: Bearer t\r\n\r\n"
        );
        assert_eq!(got.unwrap(), (200, b"hello".to_vec(), true));
        let chunked = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
                        3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        for pieces in [1, 4, 20, 200] {
            assert_eq!(exchange(chunked, pieces).await.1.unwrap(), (200, b"abcde".to_vec(), true));
        }
        let (_, got) = exchange(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx", 1).await;
        assert_eq!(got.unwrap(), (200, b"x".to_vec(), false));
        // Bytes after the body that nobody asked for: the connection is not used again.
        let (_, got) = exchange(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxHTTP/1.1", 1).await;
        assert_eq!(got.unwrap(), (200, b"x".to_vec(), false));
    }

    #[tokio::test]
    async fn a_connection_closed_before_or_during_the_answer() {
        async fn closed_after(answer: &'static [u8]) -> HttpError {
            let (client, mut server) = tokio::io::duplex(1024);
            tokio::spawn(async move {
                let mut b = [0u8; 1024];
                let _ = server.read(&mut b).await;
                let _ = server.write_all(answer).await;
            });
            let mut conn = Conn::new(client, "/", "h", "ua");
            let mut r = match conn.get(None).await {
                Ok(r) => r,
                Err(e) => return e,
            };
            loop {
                match r.chunk().await {
                    Ok(Some(_)) => {}
                    Ok(None) => panic!("the body was complete"),
                    Err(e) => return e,
                }
            }
        }
        assert!(matches!(closed_after(b"").await, HttpError::Unanswered(None)));
        assert!(matches!(closed_after(b"HTTP/1.1 200 OK\r\n").await, HttpError::Truncated));
        assert!(matches!(closed_after(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc").await, HttpError::Truncated));
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n";
        assert!(matches!(closed_after(chunked).await, HttpError::Truncated));
    }

    #[tokio::test]
    async fn an_idle_connection_the_peer_closed_is_seen_as_closed() {
        let (client, server) = tokio::io::duplex(64);
        let mut conn = Conn::new(client, "/", "h", "ua");
        assert!(conn.is_idle_and_open());
        drop(server);
        assert!(!conn.is_idle_and_open());
        let (client, mut server) = tokio::io::duplex(64);
        let mut conn = Conn::new(client, "/", "h", "ua");
        server.write_all(b"HTTP/1.1 408 Request Timeout\r\n\r\n").await.unwrap();
        assert!(!conn.is_idle_and_open(), "something arrived unasked");
    }
}

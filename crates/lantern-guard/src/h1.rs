//! The HTTP/1.1 wire format of the upstream client, without I/O: request heads written into a
//! buffer, response heads parsed with `httparse` (header values kept as slices of the read
//! buffer), and the framing of response bodies (RFC 9112 §6.3) with a chunked decoder. Every
//! function takes what has been read so far and says when it needs more, so the whole parser is
//! exercised by the `upstream_response` fuzz target without a socket.

use bytes::{Buf, Bytes, BytesMut};
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Response, StatusCode, Version};

/// Largest response head (status line and headers) accepted.
pub const MAX_HEAD: usize = 64 << 10;
/// Most headers in a response head.
pub const MAX_HEADERS: usize = 128;
/// Longest chunk-size line (with extensions) and most trailer bytes accepted.
const MAX_CHUNK_LINE: usize = 4096;
const MAX_TRAILERS: usize = 16 << 10;
/// Most informational (1xx) responses skipped before the final one.
const MAX_INFORMATIONAL: usize = 16;

/// A response the client cannot read; the connection is not reused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("invalid response head: {0}")]
    Head(String),
    #[error("response head larger than {MAX_HEAD} bytes")]
    HeadTooLarge,
    #[error("invalid content-length")]
    ContentLength,
    #[error("invalid chunked body: {0}")]
    Chunked(&'static str),
    #[error("connection closed before the response was complete")]
    Incomplete,
}

/// Writes a request line: `METHOD {prefix}{path_and_query} HTTP/1.1`.
pub fn request_line(out: &mut Vec<u8>, method: &Method, prefix: &str, path_and_query: &str) {
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(prefix.as_bytes());
    out.extend_from_slice(path_and_query.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
}

/// Writes one header line (names and values come from `http` types, which exclude line breaks).
pub fn header(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// Writes a `content-length` header and the empty line that ends the head.
pub fn end_head(out: &mut Vec<u8>, content_length: usize) {
    out.extend_from_slice(b"content-length: ");
    let mut digits = [0u8; 20];
    let mut n = content_length;
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
    out.extend_from_slice(b"\r\n\r\n");
}

/// Writes a whole request head from a method, target and header map, ending with a
/// `content-length` of `body_len` (headers of that name in the map are not written). For tests:
/// the proxy writes its heads from the client's headers with the functions above.
#[cfg(test)]
pub(crate) fn encode_head(
    out: &mut Vec<u8>,
    method: &Method,
    target: &str,
    headers: &HeaderMap,
    body_len: usize,
) {
    request_line(out, method, "", target);
    for (k, v) in headers {
        if k != hyper::header::CONTENT_LENGTH {
            header(out, k.as_str(), v.as_bytes());
        }
    }
    end_head(out, body_len);
}

/// How a response body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// This many bytes.
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
    /// At the end of the connection.
    Close,
}

/// A parsed response head.
#[derive(Debug)]
pub struct Head {
    pub response: Response<()>,
    pub framing: Framing,
    /// The connection may take another request once the body has been read.
    pub keep_alive: bool,
}

/// Reads the final response head of one request, skipping informational (1xx) responses.
#[derive(Debug, Clone, Default)]
pub struct HeadParser {
    head_request: bool,
    informational: usize,
}

impl HeadParser {
    /// A parser for the response to a request; `head_request`: the request was `HEAD` (the
    /// response has no body whatever its headers say).
    pub fn new(head_request: bool) -> Self {
        Self {
            head_request,
            informational: 0,
        }
    }

    /// Parses the final response head at the start of `buf`, removing it (and informational
    /// responses before it) from `buf`. `Ok(None)`: more bytes are needed.
    pub fn parse(&mut self, buf: &mut BytesMut) -> Result<Option<Head>, WireError> {
        loop {
            let Some(head) = parse_one(buf, self.head_request)? else {
                return Ok(None);
            };
            let status = head.response.status();
            if !status.is_informational() {
                return Ok(Some(head));
            }
            if status == StatusCode::SWITCHING_PROTOCOLS {
                return Err(WireError::Head("unexpected 101 Switching Protocols".into()));
            }
            self.informational += 1;
            if self.informational > MAX_INFORMATIONAL {
                return Err(WireError::Head("too many informational responses".into()));
            }
        }
    }
}

/// Offsets of one header's name and value in the head buffer.
#[derive(Clone, Copy)]
struct Span {
    name: (usize, usize),
    value: (usize, usize),
}

fn parse_one(buf: &mut BytesMut, head_request: bool) -> Result<Option<Head>, WireError> {
    let mut raw = [const { std::mem::MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let base = buf.as_ptr() as usize;
    let mut r = httparse::Response::new(&mut []);
    // header values are cut out of the head buffer after it is split off `buf`: their offsets
    let (len, spans) = match httparse::ParserConfig::default()
        .parse_response_with_uninit_headers(&mut r, buf, &mut raw)
    {
        Ok(httparse::Status::Complete(n)) => {
            let off = |s: &[u8]| (s.as_ptr() as usize - base, s.len());
            let spans: Vec<Span> = r
                .headers
                .iter()
                .map(|h| Span {
                    name: off(h.name.as_bytes()),
                    value: off(h.value),
                })
                .collect();
            (n, spans)
        }
        Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD => {
            return Err(WireError::HeadTooLarge)
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(WireError::Head(format!("more than {MAX_HEADERS} headers")))
        }
        Err(e) => return Err(WireError::Head(e.to_string())),
    };
    let (code, minor) = (r.code.unwrap_or(0), r.version.unwrap_or(1));
    if len > MAX_HEAD {
        return Err(WireError::HeadTooLarge);
    }
    let head = buf.split_to(len).freeze();
    let status =
        StatusCode::from_u16(code).map_err(|_| WireError::Head(format!("status code {code}")))?;
    let mut headers = HeaderMap::with_capacity(spans.len());
    let mut lengths: Option<u64> = None;
    let mut chunked = false;
    let mut te = false;
    let mut close = minor == 0;
    for s in &spans {
        let slice = |(o, l): (usize, usize)| head.get(o..o + l).unwrap_or_default();
        let name = HeaderName::from_bytes(slice(s.name))
            .map_err(|_| WireError::Head("invalid header name".into()))?;
        let value = HeaderValue::from_maybe_shared(head.slice(s.value.0..s.value.0 + s.value.1))
            .map_err(|_| WireError::Head(format!("invalid value of header {name}")))?;
        if name == hyper::header::CONTENT_LENGTH {
            for part in value.as_bytes().split(|&b| b == b',') {
                let n = parse_length(part)?;
                if lengths.is_some_and(|l| l != n) {
                    return Err(WireError::ContentLength);
                }
                lengths = Some(n);
            }
        } else if name == hyper::header::TRANSFER_ENCODING {
            te = true;
            // only the last coding says whether the body is chunked
            chunked = value
                .as_bytes()
                .rsplit(|&b| b == b',')
                .next()
                .is_some_and(|c| c.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if name == hyper::header::CONNECTION {
            for token in value.as_bytes().split(|&b| b == b',') {
                let t = token.trim_ascii();
                if t.eq_ignore_ascii_case(b"close") {
                    close = true;
                } else if minor == 0 && t.eq_ignore_ascii_case(b"keep-alive") {
                    close = false;
                }
            }
        }
        headers.append(name, value);
    }
    let bodiless = head_request
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    let framing = if bodiless {
        Framing::Length(0)
    } else if te {
        if minor == 0 {
            return Err(WireError::Head(
                "transfer-encoding in an HTTP/1.0 response".into(),
            ));
        }
        if lengths.is_some() {
            // both: the transfer coding wins, and the connection is not trusted afterwards
            close = true;
        }
        if chunked {
            Framing::Chunked
        } else {
            Framing::Close
        }
    } else if let Some(n) = lengths {
        Framing::Length(n)
    } else {
        Framing::Close
    };
    if framing == Framing::Close {
        close = true;
    }
    let mut response = Response::new(());
    *response.status_mut() = status;
    *response.version_mut() = if minor == 0 {
        Version::HTTP_10
    } else {
        Version::HTTP_11
    };
    *response.headers_mut() = headers;
    Ok(Some(Head {
        response,
        framing,
        keep_alive: !close,
    }))
}

fn parse_length(b: &[u8]) -> Result<u64, WireError> {
    let b = b.trim_ascii();
    if b.is_empty() || b.len() > 19 || !b.iter().all(u8::is_ascii_digit) {
        return Err(WireError::ContentLength);
    }
    b.iter()
        .try_fold(0u64, |n, &d| {
            n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        })
        .ok_or(WireError::ContentLength)
}

/// What a [`Decoder`] made of the bytes read so far.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded {
    /// Body bytes.
    Data(Bytes),
    /// More bytes must be read.
    NeedMore,
    /// The body is complete (bytes after it stay in the buffer).
    End,
}

/// Decodes a response body from a read buffer.
#[derive(Debug, Clone)]
pub struct Decoder {
    state: State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Bytes left of a body of known length.
    Length(u64),
    /// Reading until the connection closes.
    Close,
    /// At a chunk-size line.
    Size,
    /// Bytes left of the current chunk.
    Chunk(u64),
    /// At the line break after a chunk's data.
    ChunkEnd,
    /// In the trailer section; bytes of it read so far.
    Trailers(usize),
    Done,
}

impl Decoder {
    pub fn new(framing: Framing) -> Self {
        let state = match framing {
            Framing::Length(0) => State::Done,
            Framing::Length(n) => State::Length(n),
            Framing::Chunked => State::Size,
            Framing::Close => State::Close,
        };
        Self { state }
    }

    /// The body has been read to its end.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Exact bytes left, when known.
    pub fn remaining(&self) -> Option<u64> {
        match self.state {
            State::Length(n) => Some(n),
            State::Done => Some(0),
            _ => None,
        }
    }

    /// The next piece of the body out of `buf` (consumed from it).
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Decoded, WireError> {
        loop {
            match self.state {
                State::Done => return Ok(Decoded::End),
                State::Length(n) | State::Chunk(n) => {
                    if buf.is_empty() {
                        return Ok(Decoded::NeedMore);
                    }
                    let take = usize::try_from(n).unwrap_or(usize::MAX).min(buf.len());
                    let left = n - take as u64;
                    self.state = match self.state {
                        State::Length(_) if left == 0 => State::Done,
                        State::Length(_) => State::Length(left),
                        _ if left == 0 => State::ChunkEnd,
                        _ => State::Chunk(left),
                    };
                    return Ok(Decoded::Data(buf.split_to(take).freeze()));
                }
                State::Close => {
                    if buf.is_empty() {
                        return Ok(Decoded::NeedMore);
                    }
                    return Ok(Decoded::Data(buf.split().freeze()));
                }
                State::Size => {
                    let Some(line) = take_line(buf, MAX_CHUNK_LINE, "chunk-size line too long")?
                    else {
                        return Ok(Decoded::NeedMore);
                    };
                    let n = chunk_size(&line)?;
                    self.state = if n == 0 {
                        State::Trailers(0)
                    } else {
                        State::Chunk(n)
                    };
                }
                State::ChunkEnd => {
                    match buf.first() {
                        None => return Ok(Decoded::NeedMore),
                        Some(b'\n') => buf.advance(1),
                        Some(b'\r') => match buf.get(1) {
                            None => return Ok(Decoded::NeedMore),
                            Some(b'\n') => buf.advance(2),
                            Some(_) => return Err(WireError::Chunked("no line break after data")),
                        },
                        Some(_) => return Err(WireError::Chunked("no line break after data")),
                    }
                    self.state = State::Size;
                }
                State::Trailers(seen) => {
                    let Some(line) = take_line(
                        buf,
                        MAX_TRAILERS.saturating_sub(seen),
                        "trailer section too long",
                    )?
                    else {
                        return Ok(Decoded::NeedMore);
                    };
                    self.state = if line.is_empty() {
                        State::Done
                    } else {
                        State::Trailers(seen + line.len() + 2)
                    };
                }
            }
        }
    }

    /// The connection closed: the end of a close-delimited body, an error for the others.
    pub fn eof(&mut self) -> Result<(), WireError> {
        match self.state {
            State::Close | State::Done => {
                self.state = State::Done;
                Ok(())
            }
            _ => Err(WireError::Incomplete),
        }
    }
}

/// Takes one line (without its LF or CRLF) off `buf`; `None` when no line break has arrived
/// within `max` bytes yet.
fn take_line(
    buf: &mut BytesMut,
    max: usize,
    too_long: &'static str,
) -> Result<Option<BytesMut>, WireError> {
    match memchr::memchr(b'\n', buf) {
        Some(i) if i > max => Err(WireError::Chunked(too_long)),
        Some(i) => {
            let mut line = buf.split_to(i + 1);
            line.truncate(i);
            if line.last() == Some(&b'\r') {
                line.truncate(i - 1);
            }
            Ok(Some(line))
        }
        None if buf.len() > max => Err(WireError::Chunked(too_long)),
        None => Ok(None),
    }
}

/// The size of a chunk-size line (`1a`, `1A;ext=x`, `1a ; ext`).
fn chunk_size(line: &[u8]) -> Result<u64, WireError> {
    let digits = line
        .split(|&b| b == b';')
        .next()
        .unwrap_or_default()
        .trim_ascii_end();
    if digits.is_empty() || digits.len() > 15 {
        return Err(WireError::Chunked("invalid chunk size"));
    }
    digits.iter().try_fold(0u64, |n, &d| {
        let v = match d {
            b'0'..=b'9' => d - b'0',
            b'a'..=b'f' => d - b'a' + 10,
            b'A'..=b'F' => d - b'A' + 10,
            _ => return Err(WireError::Chunked("invalid chunk size")),
        };
        Ok(n * 16 + u64::from(v))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn head_of(s: &str) -> Result<Option<Head>, WireError> {
        HeadParser::new(false).parse(&mut BytesMut::from(s))
    }

    /// Decodes a whole body given in one buffer; `Err` on a decoding error, and
    /// `Err(Incomplete)` when it needs more than there is.
    fn body(framing: Framing, wire: &[u8]) -> Result<(Vec<u8>, usize), WireError> {
        let mut d = Decoder::new(framing);
        let mut buf = BytesMut::from(wire);
        let mut out = Vec::new();
        loop {
            match d.decode(&mut buf)? {
                Decoded::Data(b) => out.extend_from_slice(&b),
                Decoded::End => return Ok((out, buf.len())),
                Decoded::NeedMore => {
                    d.eof()?;
                }
            }
        }
    }

    #[test]
    fn heads_give_status_headers_framing_and_reuse() {
        let h = head_of("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: 12\r\nX-A: 1\r\nx-a: 2\r\n\r\nbody")
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("complete"));
        assert_eq!(h.response.status(), StatusCode::OK);
        assert_eq!(h.framing, Framing::Length(12));
        assert!(h.keep_alive);
        assert_eq!(h.response.headers().get_all("x-a").iter().count(), 2);
        assert_eq!(
            h.response
                .headers()
                .get("content-type")
                .map(HeaderValue::as_bytes),
            Some(&b"text/event-stream"[..])
        );
        let cases = [
            ("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", Framing::Chunked, true),
            ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", Framing::Chunked, false),
            ("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", Framing::Close, false),
            ("HTTP/1.1 200 OK\r\n\r\n", Framing::Close, false),
            ("HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n", Framing::Length(0), true),
            ("HTTP/1.1 304 Not Modified\r\n\r\n", Framing::Length(0), true),
            ("HTTP/1.1 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 1\r\n\r\n", Framing::Length(1), false),
            ("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", Framing::Length(1), false),
            ("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n", Framing::Length(1), true),
            ("HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n\r\n", Framing::Length(3), true),
            ("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", Framing::Length(0), true),
        ];
        for (wire, framing, keep) in cases {
            let h = head_of(wire)
                .unwrap_or_else(|e| panic!("{wire:?}: {e}"))
                .unwrap_or_else(|| panic!("{wire:?} is complete"));
            assert_eq!((h.framing, h.keep_alive), (framing, keep), "{wire:?}");
        }
        let mut head_req = BytesMut::from("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n");
        let h = HeadParser::new(true).parse(&mut head_req).ok().flatten();
        assert_eq!(h.map(|h| h.framing), Some(Framing::Length(0)));
    }

    #[test]
    fn partial_heads_wait_and_bad_ones_fail() {
        assert!(matches!(head_of("HTTP/1.1 200 OK\r\nContent-Le"), Ok(None)));
        assert!(matches!(
            head_of("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 2"),
            Ok(None)
        ));
        for bad in [
            "HTTP/1.1 200 OK\r\nContent-Length: 3, 4\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n",
            "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            "HTTP/1.1 101 Switching Protocols\r\n\r\n",
            "HTTP/1.1 999x OK\r\n\r\n",
            "SMTP 220 hello\r\n\r\n",
            "HTTP/1.1 200 OK\r\nBad Header: x\r\n\r\n",
        ] {
            assert!(head_of(bad).is_err(), "{bad:?}");
        }
        let huge = format!("HTTP/1.1 200 OK\r\nX: {}", "a".repeat(MAX_HEAD + 1));
        assert_eq!(head_of(&huge).err(), Some(WireError::HeadTooLarge));
        let many: String = (0..=MAX_HEADERS).map(|i| format!("X-{i}: 1\r\n")).collect();
        // informational responses are counted across reads
        let mut p = HeadParser::new(false);
        let mut errors = 0;
        for _ in 0..=MAX_INFORMATIONAL {
            errors += usize::from(
                p.parse(&mut BytesMut::from("HTTP/1.1 100 Continue\r\n\r\n"))
                    .is_err(),
            );
        }
        assert_eq!(errors, 1);
        assert!(head_of(&format!("HTTP/1.1 200 OK\r\n{many}\r\n")).is_err());
    }

    #[test]
    fn bodies_are_decoded_by_their_framing() {
        assert_eq!(
            body(Framing::Length(5), b"helloXYZ"),
            Ok((b"hello".to_vec(), 3))
        );
        assert_eq!(
            body(Framing::Length(6), b"hello"),
            Err(WireError::Incomplete)
        );
        assert_eq!(
            body(Framing::Close, b"all of it"),
            Ok((b"all of it".to_vec(), 0))
        );
        let wire = b"5\r\nhello\r\n1A;name=v\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Trailer: 1\r\n\r\nnext";
        assert_eq!(
            body(Framing::Chunked, wire),
            Ok((b"helloabcdefghijklmnopqrstuvwxyz".to_vec(), 4))
        );
        assert_eq!(
            body(Framing::Chunked, b"3\nabc\n0\n\n"),
            Ok((b"abc".to_vec(), 0))
        );
        assert_eq!(
            body(Framing::Chunked, b"3 ; x\r\nabc\r\n0\r\n\r\n"),
            Ok((b"abc".to_vec(), 0))
        );
        for bad in [
            &b"3\r\nabcX\r\n0\r\n\r\n"[..],
            b"g\r\n",
            b"\r\nabc",
            b"10000000000000000\r\n",
            b"3\r\nab",
            b"0\r\nX: 1\r\n",
        ] {
            assert!(body(Framing::Chunked, bad).is_err(), "{bad:?}");
        }
        let long = [b"1".repeat(MAX_CHUNK_LINE + 2), b"\r\n".to_vec()].concat();
        assert_eq!(
            body(Framing::Chunked, &long),
            Err(WireError::Chunked("chunk-size line too long"))
        );
        let trailers = [
            b"0\r\n".to_vec(),
            b"X: y\r\n".repeat(MAX_TRAILERS / 6 + 1),
            b"\r\n".to_vec(),
        ]
        .concat();
        assert_eq!(
            body(Framing::Chunked, &trailers),
            Err(WireError::Chunked("trailer section too long"))
        );
    }

    #[test]
    fn request_heads_are_written_in_order() {
        let mut h = HeaderMap::new();
        h.insert("host", HeaderValue::from_static("up:1"));
        h.append("x-a", HeaderValue::from_static("1"));
        h.append("x-a", HeaderValue::from_static("2"));
        h.insert("content-length", HeaderValue::from_static("99"));
        let mut out = Vec::new();
        encode_head(&mut out, &Method::POST, "/v1/chat/completions?a=1", &h, 0);
        assert_eq!(
            String::from_utf8_lossy(&out),
            "POST /v1/chat/completions?a=1 HTTP/1.1\r\nhost: up:1\r\nx-a: 1\r\nx-a: 2\r\ncontent-length: 0\r\n\r\n"
        );
        for n in [1, 9, 10, 12345, usize::MAX] {
            let mut out = Vec::new();
            end_head(&mut out, n);
            assert_eq!(out, format!("content-length: {n}\r\n\r\n").into_bytes());
        }
    }

    fn chunked(body: &[u8], sizes: &[usize]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut rest = body;
        let mut i = 0;
        while !rest.is_empty() {
            let n = sizes
                .get(i % sizes.len().max(1))
                .copied()
                .unwrap_or(7)
                .clamp(1, rest.len());
            out.extend_from_slice(format!("{n:x}\r\n").as_bytes());
            out.extend_from_slice(&rest[..n]);
            out.extend_from_slice(b"\r\n");
            rest = &rest[n..];
            i += 1;
        }
        out.extend_from_slice(b"0\r\n\r\n");
        out
    }

    proptest! {
        /// However the wire is split into reads, the decoder gives the same body and leaves the
        /// bytes after it.
        #[test]
        fn chunked_bodies_decode_the_same_in_any_reads(
            body in proptest::collection::vec(any::<u8>(), 0..2000),
            sizes in proptest::collection::vec(1usize..300, 1..8),
            reads in proptest::collection::vec(1usize..64, 1..16),
        ) {
            let mut wire = chunked(&body, &sizes);
            wire.extend_from_slice(b"HTTP/1.1");
            let mut d = Decoder::new(Framing::Chunked);
            let mut buf = BytesMut::new();
            let mut out = Vec::new();
            let mut at = 0;
            let mut r = 0;
            loop {
                match d.decode(&mut buf) {
                    Ok(Decoded::Data(b)) => out.extend_from_slice(&b),
                    Ok(Decoded::End) => break,
                    Ok(Decoded::NeedMore) => {
                        prop_assert!(at < wire.len(), "needs more after the whole wire");
                        let n = reads[r % reads.len()].min(wire.len() - at);
                        buf.extend_from_slice(&wire[at..at + n]);
                        at += n;
                        r += 1;
                    }
                    Err(e) => prop_assert!(false, "{e}"),
                }
            }
            prop_assert_eq!(out, body);
            let mut left = buf.to_vec();
            left.extend_from_slice(&wire[at..]);
            prop_assert_eq!(left, b"HTTP/1.1".to_vec());
        }
    }
}

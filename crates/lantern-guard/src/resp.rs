//! A minimal Redis client (RESP2 over TCP) for the shared rate limiter: a small pool of
//! connections, `SCRIPT LOAD` + `EVALSHA` with `NOSCRIPT` recovery, per-command timeouts and
//! reconnection after any failure.

use crate::ratelimit::REDIS_GCRA;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

/// A reply value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+OK`
    Simple(String),
    /// `-ERR ...`
    Error(String),
    /// `:42`
    Int(i64),
    /// `$n` (None for the nil bulk)
    Bulk(Option<Vec<u8>>),
    /// `*n` (None for the nil array)
    Array(Option<Vec<Reply>>),
}

const MAX_BULK: i64 = 1 << 20;
const MAX_ARRAY: i64 = 1 << 16;

struct Conn {
    r: BufReader<TcpStream>,
    sha: String,
}

/// A pool of Redis connections.
pub struct RedisPool {
    addr: String,
    db: Option<u32>,
    conns: Vec<Mutex<Option<Conn>>>,
    next: AtomicUsize,
    timeout: Duration,
}

fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

async fn read_line(r: &mut BufReader<TcpStream>) -> std::io::Result<String> {
    let mut line = Vec::new();
    let n = (&mut *r)
        .take(64 * 1024)
        .read_until(b'\n', &mut line)
        .await?;
    if n == 0 || !line.ends_with(b"\r\n") {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "redis closed the connection",
        ));
    }
    line.truncate(line.len() - 2);
    String::from_utf8(line)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "non-UTF-8 reply line"))
}

fn bad(m: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_string())
}

/// Reads one reply (nesting bounded to depth 4).
fn read_reply<'a>(
    r: &'a mut BufReader<TcpStream>,
    depth: u8,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = std::io::Result<Reply>> + Send + 'a>> {
    Box::pin(async move {
        let line = read_line(r).await?;
        let (kind, rest) = line
            .split_at_checked(1)
            .ok_or_else(|| bad("empty reply line"))?;
        let num = || rest.parse::<i64>().map_err(|_| bad("bad length in reply"));
        Ok(match kind {
            "+" => Reply::Simple(rest.to_string()),
            "-" => Reply::Error(rest.to_string()),
            ":" => Reply::Int(num()?),
            "$" => {
                let n = num()?;
                if n < 0 {
                    Reply::Bulk(None)
                } else if n > MAX_BULK {
                    return Err(bad("bulk reply too large"));
                } else {
                    let mut b = vec![0u8; n as usize + 2];
                    r.read_exact(&mut b).await?;
                    b.truncate(n as usize);
                    Reply::Bulk(Some(b))
                }
            }
            "*" => {
                let n = num()?;
                if n < 0 {
                    Reply::Array(None)
                } else if n > MAX_ARRAY || depth >= 4 {
                    return Err(bad("array reply too large or too deep"));
                } else {
                    let mut v = Vec::with_capacity(n as usize);
                    for _ in 0..n {
                        v.push(read_reply(r, depth + 1).await?);
                    }
                    Reply::Array(Some(v))
                }
            }
            _ => return Err(bad("unknown reply type")),
        })
    })
}

async fn command(c: &mut BufReader<TcpStream>, args: &[&[u8]]) -> std::io::Result<Reply> {
    c.get_mut().write_all(&encode(args)).await?;
    read_reply(c, 0).await
}

impl RedisPool {
    /// Parses `redis://host:port[/db]`; connections are opened lazily.
    pub fn new(url: &str, size: usize) -> Result<Self, crate::Error> {
        let rest = url.strip_prefix("redis://").ok_or_else(|| {
            crate::Error::Config(format!("redis URL must start with redis://, got {url:?}"))
        })?;
        let (addr, db) = match rest.split_once('/') {
            Some((a, "")) => (a, None),
            Some((a, d)) => (
                a,
                Some(
                    d.parse()
                        .map_err(|_| crate::Error::Config(format!("bad redis db in {url:?}")))?,
                ),
            ),
            None => (rest, None),
        };
        if addr.contains('@') {
            return Err(crate::Error::Config(
                "redis URLs with credentials are not supported".into(),
            ));
        }
        Ok(Self {
            addr: addr.to_string(),
            db,
            conns: (0..size.max(1)).map(|_| Mutex::new(None)).collect(),
            next: AtomicUsize::new(0),
            timeout: Duration::from_millis(500),
        })
    }

    /// Sets the time allowed for one operation, connecting included.
    pub fn with_timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    async fn connect(&self) -> std::io::Result<Conn> {
        let s = TcpStream::connect(&self.addr).await?;
        s.set_nodelay(true)?;
        let mut r = BufReader::new(s);
        if let Some(db) = self.db {
            if let Reply::Error(e) =
                command(&mut r, &[b"SELECT", db.to_string().as_bytes()]).await?
            {
                return Err(bad(&e));
            }
        }
        let sha = match command(&mut r, &[b"SCRIPT", b"LOAD", REDIS_GCRA.as_bytes()]).await? {
            Reply::Bulk(Some(b)) => String::from_utf8_lossy(&b).into_owned(),
            other => return Err(bad(&format!("SCRIPT LOAD failed: {other:?}"))),
        };
        Ok(Conn { r, sha })
    }

    /// Runs the GCRA script on `key`; returns `(allowed, wait_us)`.
    pub async fn eval_gcra(&self, key: &str, args: &[String; 4]) -> std::io::Result<(i64, i64)> {
        let slot = &self.conns[self.next.fetch_add(1, Ordering::Relaxed) % self.conns.len()];
        let mut guard = slot.lock().await;
        let res = tokio::time::timeout(self.timeout, async {
            if guard.is_none() {
                *guard = Some(self.connect().await?);
            }
            let conn = guard.as_mut().ok_or_else(|| bad("no connection"))?;
            let mut argv: Vec<&[u8]> = vec![b"EVALSHA", conn.sha.as_bytes(), b"1", key.as_bytes()];
            argv.extend(args.iter().map(|a| a.as_bytes()));
            let mut reply = command(&mut conn.r, &argv).await?;
            if matches!(&reply, Reply::Error(e) if e.starts_with("NOSCRIPT")) {
                argv[0] = b"EVAL";
                argv[1] = REDIS_GCRA.as_bytes();
                reply = command(&mut conn.r, &argv).await?;
            }
            match reply {
                Reply::Array(Some(v)) => match v.as_slice() {
                    [Reply::Int(a), Reply::Int(w)] => Ok((*a, *w)),
                    _ => Err(bad("unexpected GCRA reply")),
                },
                Reply::Error(e) => Err(bad(&e)),
                _ => Err(bad("unexpected GCRA reply")),
            }
        })
        .await
        .unwrap_or_else(|_| {
            Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "redis timed out",
            ))
        });
        if res.is_err() {
            *guard = None;
        }
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_commands_and_parses_urls() {
        assert_eq!(
            encode(&[b"GET", b"k"]),
            b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n".to_vec()
        );
        assert!(RedisPool::new("redis://127.0.0.1:6379/2", 2)
            .is_ok_and(|p| p.db == Some(2) && p.addr == "127.0.0.1:6379"));
        assert!(RedisPool::new("http://x", 1).is_err());
        assert!(RedisPool::new("redis://u:p@h:1", 1).is_err());
    }
}

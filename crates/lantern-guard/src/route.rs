//! The guard's one route table: a request path is normalised once (percent-decoding of unreserved
//! characters, empty and `.`/`..` segments, a trailing `/`, the case of the version prefix), then
//! mapped to an endpoint; the normalised path is what is forwarded, so the upstream routes exactly
//! what the guard inspected. A path the table does not know is refused unless the operator chose
//! `[server] unknown_paths = "forward"`.

use hyper::Method;
use std::borrow::Cow;

/// Longest request path accepted (a longer one is refused, not normalised).
const MAX_PATH: usize = 4096;

/// What the guard does with a request to an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /v1/chat/completions`.
    Chat,
    /// `POST /v1/completions` (legacy).
    Completions,
    /// `POST /v1/embeddings`.
    Embeddings,
    /// `POST /v1/responses`.
    Responses,
    /// `GET /v1/responses/{id}`: a stored response, monitored as a plain one.
    ResponseGet,
    /// `POST /v1/moderations`.
    Moderations,
    /// `GET /v1/models`: the list is filtered by the key's model scope.
    Models,
    /// `GET /v1/models/{id}`: scope-checked on the id.
    Model,
    /// `POST /v1/audio/speech` and `POST /v1/images/generations` (JSON bodies with `model`).
    MediaJson,
    /// `POST /v1/audio/transcriptions|translations`, `POST /v1/images/edits|variations`
    /// (multipart bodies; `model` is a form field). Transcriptions' text is monitored.
    MediaForm,
    /// A path the table does not know (forwarded only with `unknown_paths = "forward"`).
    Unknown,
}

impl Endpoint {
    /// The label of the endpoint in metrics and audit records.
    pub fn label(self) -> &'static str {
        match self {
            Self::Chat => "/v1/chat/completions",
            Self::Completions => "/v1/completions",
            Self::Embeddings => "/v1/embeddings",
            Self::Responses => "/v1/responses",
            Self::ResponseGet => "/v1/responses/{id}",
            Self::Moderations => "/v1/moderations",
            Self::Models => "/v1/models",
            Self::Model => "/v1/models/{id}",
            Self::MediaJson => "media",
            Self::MediaForm => "media_form",
            Self::Unknown => "other",
        }
    }

    /// A JSON request body read for model scope, hardening, detectors and token limits.
    pub fn inspects_json(self) -> bool {
        matches!(
            self,
            Self::Chat
                | Self::Completions
                | Self::Embeddings
                | Self::Responses
                | Self::Moderations
                | Self::MediaJson
        )
    }

    /// The response carries generated text that output monitoring reads.
    pub fn monitors_output(self) -> bool {
        matches!(
            self,
            Self::Chat
                | Self::Completions
                | Self::Responses
                | Self::ResponseGet
                | Self::MediaForm
                | Self::MediaJson
        )
    }

    /// Generation endpoints whose requests carry a completion budget (`max_tokens`, `n`).
    pub fn generates(self) -> bool {
        matches!(self, Self::Chat | Self::Completions | Self::Responses)
    }
}

/// Why a path was refused before routing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathError {
    /// A percent-escape of a reserved character (`%2F`, `%3F`, …), a malformed escape, a
    /// backslash or a control character: upstreams disagree on what these mean.
    Ambiguous,
    /// Longer than [`MAX_PATH`].
    TooLong,
}

fn unhex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Whether a path is already in normal form (the usual request: no copy is made).
fn is_normal(path: &str) -> bool {
    let b = path.as_bytes();
    b.first() == Some(&b'/')
        && (b.len() == 1 || b.last() != Some(&b'/'))
        && !b.windows(2).any(|w| w == b"//")
        && !b
            .iter()
            .any(|&c| c == b'%' || c == b'\\' || c < 0x20 || c == 0x7f)
        && !path.split('/').any(|s| s == "." || s == "..")
        && !(b.len() >= 3 && b[1] == b'V' && b[2].is_ascii_digit())
}

/// The normal form of a request path: unreserved characters percent-decoded, empty and `.`
/// segments dropped, `..` removing the segment before it (never above the root), no trailing
/// `/`, and a leading version segment (`/V1`) in lower case.
pub fn normalise(path: &str) -> Result<Cow<'_, str>, PathError> {
    if path.len() > MAX_PATH {
        return Err(PathError::TooLong);
    }
    if is_normal(path) {
        return Ok(Cow::Borrowed(path));
    }
    let b = path.as_bytes();
    let mut decoded = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'\\' || c < 0x20 || c == 0x7f {
            return Err(PathError::Ambiguous);
        }
        if c == b'%' {
            let hi = b.get(i + 1).copied().and_then(unhex);
            let lo = b.get(i + 2).copied().and_then(unhex);
            match (hi, lo) {
                (Some(h), Some(l)) if unreserved(h * 16 + l) => decoded.push(h * 16 + l),
                _ => return Err(PathError::Ambiguous),
            }
            i += 3;
        } else {
            decoded.push(c);
            i += 1;
        }
    }
    // only ASCII bytes were decoded into it, and the rest is the `&str` it was
    let text = String::from_utf8(decoded).map_err(|_| PathError::Ambiguous)?;
    let mut segs: Vec<&str> = Vec::new();
    for s in text.split('/') {
        match s {
            "" | "." => {}
            ".." => {
                segs.pop();
            }
            s => segs.push(s),
        }
    }
    let mut out = String::with_capacity(text.len() + 1);
    for (n, s) in segs.iter().enumerate() {
        out.push('/');
        if n == 0
            && s.len() >= 2
            && s.starts_with(['V', 'v'])
            && s[1..].bytes().all(|c| c.is_ascii_digit())
        {
            out.push_str(&s.to_ascii_lowercase());
        } else {
            out.push_str(s);
        }
    }
    if out.is_empty() {
        out.push('/');
    }
    Ok(Cow::Owned(out))
}

/// The endpoint of a normalised path and its method. Paths are also known without the `/v1`
/// prefix (servers such as LiteLLM route both): they are the same endpoint.
pub fn route(method: &Method, path: &str) -> Endpoint {
    let rest = path
        .strip_prefix("/v1")
        .filter(|r| r.is_empty() || r.starts_with('/'));
    let p = rest.unwrap_or(path);
    let post = method == Method::POST;
    let get = method == Method::GET;
    match p {
        "/chat/completions" if post => Endpoint::Chat,
        "/completions" if post => Endpoint::Completions,
        "/embeddings" if post => Endpoint::Embeddings,
        "/responses" if post => Endpoint::Responses,
        "/moderations" if post => Endpoint::Moderations,
        "/models" if get => Endpoint::Models,
        "/audio/speech" | "/images/generations" if post => Endpoint::MediaJson,
        "/audio/transcriptions"
        | "/audio/translations"
        | "/images/edits"
        | "/images/variations"
            if post =>
        {
            Endpoint::MediaForm
        }
        _ => match p
            .split_once('/')
            .map(|(_, r)| r)
            .unwrap_or("")
            .split_once('/')
        {
            Some(("models", id)) if get && !id.is_empty() => Endpoint::Model,
            Some(("responses", id)) if get && !id.is_empty() && !id.contains('/') => {
                Endpoint::ResponseGet
            }
            _ => Endpoint::Unknown,
        },
    }
}

/// A multipart body the gateway does not understand, or one naming `model` more than once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FormError;

/// The value of a multipart form's `model` field; an error when the body is not understood or
/// names the field more than once (the upstream could read either).
pub fn form_model<'a>(
    content_type: &str,
    body: &'a [u8],
) -> Result<Option<Cow<'a, str>>, FormError> {
    let boundary = content_type
        .split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("boundary="))
        .map(|b| b.trim_matches('"'))
        .filter(|b| !b.is_empty())
        .ok_or(FormError)?;
    let delim = format!("--{boundary}");
    let finder = memchr::memmem::Finder::new(delim.as_bytes());
    let starts: Vec<usize> = finder.find_iter(body).collect();
    let mut found = None;
    for w in starts.windows(2) {
        let part = body.get(w[0] + delim.len()..w[1]).ok_or(FormError)?;
        let part = part.strip_prefix(b"\r\n").unwrap_or(part);
        let Some(h_end) = memchr::memmem::find(part, b"\r\n\r\n") else {
            return Err(FormError);
        };
        let head = String::from_utf8_lossy(&part[..h_end]).to_ascii_lowercase();
        let is_model = head.lines().any(|l| {
            l.starts_with("content-disposition:")
                && l.split(';')
                    .map(str::trim)
                    .any(|p| p == "name=\"model\"" || p == "name=model")
        });
        if !is_model {
            continue;
        }
        if found.is_some() {
            return Err(FormError);
        }
        let value = &part[h_end + 4..];
        let value = value.strip_suffix(b"\r\n").unwrap_or(value);
        found = Some(String::from_utf8_lossy(value));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_normalise_to_one_path() {
        for p in [
            "/v1/chat/completions",
            "/v1/chat/%63ompletions",
            "//v1/chat/completions",
            "/v1//chat/completions",
            "/v1/chat/completions/",
            "/V1/chat/completions",
            "/v1/./chat/completions",
            "/v1/x/../chat/completions",
            "/../v1/chat/completions",
            "/%76%31/chat/completions",
            "/%2e/v1/chat/completions",
        ] {
            assert_eq!(normalise(p).as_deref(), Ok("/v1/chat/completions"), "{p}");
            let n = normalise(p).unwrap_or_default();
            assert_eq!(route(&Method::POST, &n), Endpoint::Chat, "{p}");
        }
        assert!(matches!(
            normalise("/v1/chat/completions"),
            Ok(Cow::Borrowed(_))
        ));
        assert_eq!(normalise("/"), Ok(Cow::Borrowed("/")));
        assert_eq!(normalise("//").as_deref(), Ok("/"));
    }

    #[test]
    fn ambiguous_escapes_are_refused() {
        for p in [
            "/v1/chat%2Fcompletions",
            "/v1/chat%2fcompletions",
            "/v1/chat/completions%3F",
            "/v1/chat/%zzcompletions",
            "/v1/chat/completions%",
            "/v1\\chat/completions",
            "/v1/chat/completions%00",
        ] {
            assert_eq!(normalise(p), Err(PathError::Ambiguous), "{p}");
        }
        assert_eq!(normalise(&"/a".repeat(3000)), Err(PathError::TooLong));
    }

    #[test]
    fn the_table_knows_methods_and_ids() {
        assert_eq!(route(&Method::POST, "/chat/completions"), Endpoint::Chat);
        assert_eq!(
            route(&Method::GET, "/v1/chat/completions"),
            Endpoint::Unknown
        );
        assert_eq!(route(&Method::POST, "/v1/responses"), Endpoint::Responses);
        assert_eq!(
            route(&Method::GET, "/v1/responses/resp_1"),
            Endpoint::ResponseGet
        );
        assert_eq!(route(&Method::GET, "/v1/models"), Endpoint::Models);
        assert_eq!(route(&Method::GET, "/v1/models/gpt-4o"), Endpoint::Model);
        assert_eq!(
            route(&Method::POST, "/v1/audio/transcriptions"),
            Endpoint::MediaForm
        );
        assert_eq!(
            route(&Method::POST, "/v1/images/generations"),
            Endpoint::MediaJson
        );
        assert_eq!(
            route(&Method::POST, "/v1/chat/completionsx"),
            Endpoint::Unknown
        );
        assert_eq!(
            route(&Method::POST, "/v2/chat/completions"),
            Endpoint::Unknown
        );
        assert_eq!(
            route(&Method::POST, "/v1/Chat/completions"),
            Endpoint::Unknown
        );
    }

    #[test]
    fn the_form_model_is_read_once() {
        let ct = "multipart/form-data; boundary=XyZ";
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n\r\nRIFF\r\n--XyZ\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n--XyZ--\r\n";
        assert_eq!(
            form_model(ct, body).ok().flatten().as_deref(),
            Some("whisper-1")
        );
        let twice = b"--XyZ\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\na\r\n--XyZ\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nb\r\n--XyZ--\r\n";
        assert!(form_model(ct, twice).is_err());
        let none =
            b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nx\r\n--XyZ--\r\n";
        assert_eq!(form_model(ct, none), Ok(None));
        assert!(form_model("multipart/form-data", body).is_err());
    }
}

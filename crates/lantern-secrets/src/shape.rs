//! What a matched value looks like, judged from the value and its surroundings alone: code
//! identifiers (`RoboflowProviderSpec`, `_SecretColumn`), word phrases (`my-anthropic-api-key`),
//! environment references (`os.environ/OPENAI_API_KEY`), code expressions (`e.auth_password??`),
//! hashes and UUIDs, values embedded in a base64 blob (`data:font/woff2;base64,...`), and hosts
//! that cannot carry live credentials (`*.example`, `*.invalid`, loopback).
//!
//! The scanner uses these to drop values that are not secrets and to grade the evidence of
//! generic (low-confidence) matches; see `Scanner::consider`.

/// Bytes looked at on each side of a match when deciding whether it sits inside a base64 run
/// (bounds the cost per match).
const BLOB_LOOKAROUND: usize = 4 << 10;
/// A base64 run at least this long that extends past a match on both sides is an encoded blob.
const BLOB_MIN_RUN: usize = 256;
/// A base64 run at least this long that extends past a match on one side is an encoded blob
/// (the match is at its start or end: a token is the whole of its run).
const BLOB_LONG_RUN: usize = 1 << 10;

fn is_vowel(b: u8) -> bool {
    matches!(
        b.to_ascii_lowercase(),
        b'a' | b'e' | b'i' | b'o' | b'u' | b'y'
    )
}

/// A run of letters that reads like a word: it has a vowel and no run of five consonants.
/// Random strings of 5+ letters rarely pass both.
fn wordlike(w: &[u8]) -> bool {
    if !w.iter().any(|&b| is_vowel(b)) {
        return false;
    }
    let mut run = 0;
    for &b in w {
        run = if is_vowel(b) { 0 } else { run + 1 };
        if run >= 5 {
            return false;
        }
    }
    true
}

/// Split an identifier into words: at `_`, letter/digit changes, `aB` (camel case) and
/// `ABc` (the last capital of an acronym starts the next word: `HTTPServer` -> `HTTP`, `Server`).
fn split_words(s: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=s.len() {
        let boundary = match (s.get(i - 1), s.get(i), s.get(i + 1)) {
            (_, None, _) => true,
            (Some(&a), Some(&b), next) => {
                b == b'_'
                    || a == b'_'
                    || a.is_ascii_digit() != b.is_ascii_digit()
                    || (a.is_ascii_lowercase() && b.is_ascii_uppercase())
                    || (a.is_ascii_uppercase()
                        && b.is_ascii_uppercase()
                        && next.is_some_and(|n| n.is_ascii_lowercase()))
            }
            _ => false,
        };
        if boundary {
            if let Some(w) = s.get(start..i) {
                if !w.is_empty() && w != b"_" {
                    out.push(w);
                }
            }
            start = i;
        }
    }
    out.into_iter()
        .map(|w| w.strip_prefix(b"_").unwrap_or(w))
        .filter(|w| !w.is_empty())
        .collect()
}

/// A code identifier made of words: `Mistral3ForConditionalGeneration`, `_SecretColumn`,
/// `apollo_adamw_layerwise`, `QdrantVectorStore`. Random tokens split into many short,
/// unpronounceable pieces and never pass.
pub fn is_code_identifier(s: &[u8]) -> bool {
    if s.len() < 6
        || !s.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_')
        || !s.iter().any(u8::is_ascii_alphabetic)
    {
        return false;
    }
    // Words must be separated the way code separates them (`_` or camelCase); digits alone
    // do not make words of a random lower-case string (`v21nmyndq3wrzenyx8uk`).
    let camel = s
        .windows(2)
        .any(|w| w[0].is_ascii_lowercase() && w[1].is_ascii_uppercase());
    if !camel && !s.contains(&b'_') {
        return false;
    }
    let words = split_words(s);
    let letter_words = words
        .iter()
        .filter(|w| w.len() >= 3 && w[0].is_ascii_alphabetic())
        .count();
    if letter_words < 2 {
        return false;
    }
    // Random strings break into many one- and two-character pieces; names have few.
    let short = words.iter().filter(|w| w.len() <= 2).count();
    if short > 1.max(words.len() / 4) {
        return false;
    }
    let total: usize = words.iter().map(|w| w.len()).sum();
    if total < words.len() * 4 {
        // Average word shorter than 4 characters.
        return false;
    }
    words.iter().all(|w| {
        if w[0].is_ascii_digit() {
            w.len() <= 4
        } else {
            // Short words and acronyms (`AI`, `HTTP`, `cfg`) pass as they are.
            w.len() <= 4 || wordlike(w)
        }
    })
}

/// One `_`-separated name made of words or short pieces: `api_key`, `TOKEN`, `ENV_VAR`, `self`.
fn is_snake_name(p: &[u8]) -> bool {
    p.split(|&b| b == b'_')
        .all(|w| w.iter().all(u8::is_ascii_alphabetic) && (w.len() <= 3 || wordlike(w)))
}

/// A dotted reference to a value: `SecretType.TOKEN`, `settings.api_key`, `Enum.MEMBER`.
pub fn is_dotted_reference(s: &[u8]) -> bool {
    let parts: Vec<&[u8]> = s.split(|&b| b == b'.').collect();
    parts.len() >= 2
        && parts.iter().all(|p| {
            !p.is_empty()
                && (p[0].is_ascii_alphabetic() || p[0] == b'_')
                && p.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_')
                && (is_code_identifier(p) || is_snake_name(p))
        })
}

/// Words a value uses to describe itself or to say it is not real: a phrase containing one is a
/// placeholder (`my-anthropic-api-key`, `synthetic-webhook-secret`, `fake-accumulator-key`).
const SELF_DESCRIBING: [&str; 32] = [
    "username",
    "user",
    "key",
    "keys",
    "secret",
    "secrets",
    "token",
    "tokens",
    "password",
    "passwd",
    "pwd",
    "pass",
    "credential",
    "credentials",
    "api",
    "apikey",
    "auth",
    "fake",
    "mock",
    "dummy",
    "test",
    "tests",
    "testing",
    "synthetic",
    "sample",
    "example",
    "placeholder",
    "my",
    "your",
    "invalid",
    "fixture",
    "demo",
];

/// The parts of a phrase (`-`, `_`, `.`, space separated), or `None` when the value is not a
/// phrase: every part must be a short token, digits, or a word optionally followed by digits
/// (`oat01`), and at least two parts must be words of three or more letters.
fn phrase_parts(s: &[u8]) -> Option<Vec<&[u8]>> {
    let parts: Vec<&[u8]> = s
        .split(|&b| matches!(b, b'-' | b'_' | b'.' | b' '))
        .filter(|p| !p.is_empty())
        .collect();
    if parts.len() < 2 {
        return None;
    }
    let mut words = 0;
    for p in &parts {
        let letters = p.iter().take_while(|b| b.is_ascii_alphabetic()).count();
        let (head, tail) = p.split_at(letters);
        if !tail.iter().all(u8::is_ascii_digit) || tail.len() > 8 {
            return None;
        }
        if head.len() >= 3 {
            if !wordlike(head) {
                return None;
            }
            words += 1;
        }
    }
    (words >= 2).then_some(parts)
}

/// A phrase of words (`certificate-subject-never-visible`, `from-on-disk-profile`): written by a
/// person, not generated.
pub fn is_phrase(s: &[u8]) -> bool {
    phrase_parts(s).is_some()
}

/// A phrase that names what it stands for or says it is not real (`my-anthropic-api-key`,
/// `sk-ant-oat01-MINTED-SECRET`, `fake-private-value-for-logging-tests`).
/// Two such words make a placeholder even among other parts (`sk-secret-key-abc123xyz`).
pub fn is_self_describing_phrase(s: &[u8]) -> bool {
    let describes = |p: &&[u8]| {
        let lower = p.to_ascii_lowercase();
        let word: &[u8] = match lower.iter().position(u8::is_ascii_digit) {
            Some(i) => &lower[..i],
            None => &lower,
        };
        SELF_DESCRIBING.iter().any(|w| w.as_bytes() == word)
    };
    if phrase_parts(s).is_some_and(|parts| parts.iter().any(describes)) {
        return true;
    }
    // Short single-token values only: armoured blocks (`BEGIN ... PRIVATE KEY`) name
    // themselves too.
    if s.len() > 64 || s.iter().any(u8::is_ascii_whitespace) {
        return false;
    }
    let mut found: Vec<Vec<u8>> = s
        .split(|&b| matches!(b, b'-' | b'_' | b'.' | b':'))
        .filter(describes)
        .map(|p| p.to_ascii_lowercase())
        .collect();
    found.sort();
    found.dedup();
    found.len() >= 2
}

/// Keyboard and counting sequences (`9876543210abcdef`, `abc123456`): at least half of the
/// neighbouring characters are one step apart. Random values almost never are.
pub fn is_sequential(s: &[u8]) -> bool {
    let body: Vec<u8> = s
        .iter()
        .copied()
        .filter(u8::is_ascii_alphanumeric)
        .map(|b| b.to_ascii_lowercase())
        .collect();
    if body.len() < 8 {
        return false;
    }
    let steps = body.windows(2).filter(|w| w[0].abs_diff(w[1]) == 1).count();
    steps * 2 >= body.len() - 1
}

/// Prefixes of references to a value kept elsewhere (environment, secret stores).
const ENV_PREFIXES: [&str; 14] = [
    "os.environ",
    "os.getenv",
    "environ[",
    "getenv(",
    "env:",
    "env.",
    "env(",
    "$env:",
    "process.env",
    "import.meta.env",
    "secrets.",
    "vault:",
    "ssm:",
    "arn:aws:secretsmanager:",
];

/// `os.environ/OPENAI_API_KEY`, `env:API_TOKEN`, `process.env.KEY`, `%API_KEY%`.
pub fn is_env_reference(s: &[u8]) -> bool {
    let lower = s.to_ascii_lowercase();
    if ENV_PREFIXES.iter().any(|p| lower.starts_with(p.as_bytes())) {
        return true;
    }
    s.len() > 2
        && s.first() == Some(&b'%')
        && s.last() == Some(&b'%')
        && s[1..s.len() - 1]
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Operators that appear in code but not in credentials: `a?.b`, `a ?? b`, `x===y`, `f()`.
pub fn is_code_expression(s: &[u8]) -> bool {
    const OPS: [&[u8]; 7] = [b"?.", b"??", b"!=", b"||", b"&&", b"=>", b"()"];
    // `==` also ends base64 values (`...==.next-part`); it is an operator when an operand
    // follows it.
    let equality = memchr::memmem::find_iter(s, b"==").any(|i| {
        s.get(i + 2)
            .is_some_and(|&b| b.is_ascii_alphabetic() || matches!(b, b'_' | b'!' | b'"' | b'\''))
    });
    // A call: a name, `(`, and a `)` later (`vo(r.path)`, `get_key(user)`).
    let call = s.windows(2).enumerate().any(|(i, w)| {
        (w[0].is_ascii_alphanumeric() || w[0] == b'_')
            && w[1] == b'('
            && memchr::memchr(b')', &s[i + 2..]).is_some()
    });
    equality
        || call
        || OPS.iter().any(|op| memchr::memmem::find(s, op).is_some())
        || matches!(s.first(), Some(b'=' | b'?' | b'(' | b')'))
        || s.last() == Some(&b'(')
}

/// A format-string field (`{password}`, `{user_p}`): an f-string or `str.format` template.
pub fn has_format_field(s: &[u8]) -> bool {
    let mut rest = s;
    while let Some(i) = memchr::memchr(b'{', rest) {
        let after = &rest[i + 1..];
        let n = after
            .iter()
            .take_while(|&&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
            .count();
        if n > 0 && after.get(n) == Some(&b'}') {
            return true;
        }
        rest = after;
    }
    false
}

/// A file path or URL (`/etc/passwd:ro`, `./certs/key.pem`, `~/.ssh/id`, `https://vault/x`):
/// where a secret is kept, not the secret.
pub fn is_path_or_url(s: &[u8]) -> bool {
    if memchr::memmem::find(s, b"://").is_some() {
        return true;
    }
    let rooted = [&b"/"[..], b"./", b"../", b"~/"]
        .iter()
        .any(|p| s.starts_with(p));
    rooted
        && s.iter().filter(|&&b| b == b'/').count() >= 2
        && s.iter().all(|&b| {
            b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'_' | b'-' | b':' | b'~')
        })
}

/// Lower-case hex of a digest's length (MD5, SHA-1, SHA-256, SHA-512) or a UUID: a value that
/// may be a key but is as often a hash, an id or a checksum.
pub fn is_hash_or_uuid(s: &[u8]) -> bool {
    let hex = |b: &u8| b.is_ascii_hexdigit();
    if s.len() == 36 {
        return s.iter().enumerate().all(|(i, b)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                *b == b'-'
            } else {
                hex(b)
            }
        });
    }
    matches!(s.len(), 32 | 40 | 64 | 128) && s.iter().all(hex)
}

/// Why a generic match's value is weak evidence of a secret, if it is: a phrase of words, a
/// hash or UUID, or a value without both letters and digits (random keys of 16+ characters
/// almost always have both). Weak generic matches are reported at `info`.
pub fn weak_evidence(s: &[u8]) -> Option<&'static str> {
    if is_phrase(s) {
        return Some("the value is a phrase of words");
    }
    if is_hash_or_uuid(s) {
        return Some("the value has the shape of a hash or UUID");
    }
    let digit = s.iter().any(u8::is_ascii_digit);
    let letter = s.iter().any(u8::is_ascii_alphabetic);
    if !(digit && letter) {
        return Some("the value does not mix letters and digits");
    }
    None
}

fn is_b64(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=')
}

/// Whether `[start, end)` of `data` lies inside an encoded blob: the base64 run around it follows
/// `base64,` (a `data:` URI: images, fonts), or is long and extends past the match on both
/// sides (a token does not sit in the middle of a larger base64 value).
pub fn inside_base64_blob(data: &[u8], start: usize, end: usize) -> bool {
    let lo = start.saturating_sub(BLOB_LOOKAROUND);
    let hi = end.saturating_add(BLOB_LOOKAROUND).min(data.len());
    let mut s = start;
    while s > lo && data.get(s - 1).copied().is_some_and(is_b64) {
        s -= 1;
    }
    let mut e = end;
    while e < hi && data.get(e).copied().is_some_and(is_b64) {
        e += 1;
    }
    if data.get(..s).is_some_and(|b| b.ends_with(b"base64,")) {
        return true;
    }
    let (before, after) = (start - s, e - end);
    (e - s >= BLOB_MIN_RUN && before >= 16 && after >= 16)
        || (e - s >= BLOB_LONG_RUN && (before >= 16 || after >= 16))
}

/// What a connection URL's host says about its credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostKind {
    /// A reserved documentation or test name (RFC 2606, RFC 6761): `example.com`, `*.example`,
    /// `*.invalid`, `*.test`. No live service; the credentials are illustrations.
    Reserved,
    /// This machine (`localhost`, `127.0.0.0/8`, `::1`, `0.0.0.0`): development credentials.
    Loopback,
    /// Anything else.
    Other,
}

/// Classify a URL host (without port).
pub fn host_kind(host: &[u8]) -> HostKind {
    // Drop a `:port` (not inside an IPv6 literal).
    let host = match memchr::memrchr(b':', host) {
        Some(i) if !host.starts_with(b"[") || host[..i].ends_with(b"]") => {
            let port = &host[i + 1..];
            if !port.is_empty() && port.iter().all(u8::is_ascii_digit) {
                &host[..i]
            } else {
                host
            }
        }
        _ => host,
    };
    let h = host.to_ascii_lowercase();
    let h = h.strip_suffix(b".").unwrap_or(&h);
    let ends = |suffix: &[u8]| h == &suffix[1..] || h.ends_with(suffix);
    if ends(b".example")
        || ends(b".invalid")
        || ends(b".test")
        || ends(b".example.com")
        || ends(b".example.org")
        || ends(b".example.net")
    {
        return HostKind::Reserved;
    }
    if ends(b".localhost")
        || h.starts_with(b"127.")
        || h == b"0.0.0.0"
        || h == b"[::1]"
        || h == b"::1"
    {
        return HostKind::Loopback;
    }
    HostKind::Other
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_recognised() {
        for s in [
            "Mistral3ForConditionalGeneration",
            "RoboflowProviderSpec",
            "UnstructuredWordDocumentLoader",
            "AlibabaCloudOpenSearchSettings",
            "CustomOpenAIChatContentFormatter",
            "QdrantVectorStore",
            "apollo_adamw_layerwise",
            "_SecretColumn",
            "_ENTERPRISE_SecretDetection",
            "keep_old_secret_active_for_24_hours",
            "aws_session_token",
            "HTTPServerConfig",
            "_get_realtime_http_provider_config",
        ] {
            assert!(is_code_identifier(s.as_bytes()), "{s}");
        }
        for s in [
            "nfGfulH2gnQtMsh4bBYo",
            "Ky9Pf34qY6Nb3wWD25RQ4F5ZR3qa7y3gm1IL",
            "d5345c0ecc68ae6295c69f91926b2bd3",
            "K8ZQ2XW9PLMN4RST7VWX2YZA3BCD5EFG",
            "7xDPkYXSYDc1_ErdTPIcoAR9RNd8YDlkS3nVNXcVoIMZ6",
            "qwrtzpsdfghjklmnbvcxqwrtzpsdfghj",
            "short",
            "uwrloqcmba57zn90",
            "v21nmyndq3wrzenyx8ukrerkjewhlu28",
            "ASIANYOUNII7WCERKH46",
            "persona_production_l5xpo4ruclygmgzi498w",
        ] {
            assert!(!is_code_identifier(s.as_bytes()), "{s}");
        }
    }

    #[test]
    fn words_split_at_case_and_digits() {
        let w = split_words(b"HTTPServer2Go_now");
        assert_eq!(w, vec![&b"HTTP"[..], b"Server", b"2", b"Go", b"now"]);
    }

    #[test]
    fn dotted_references() {
        assert!(is_dotted_reference(b"SecretType.TOKEN"));
        assert!(is_dotted_reference(b"settings.api_key"));
        assert!(!is_dotted_reference(b"nfGfulH2.gnQtMsh4bBYo"));
        assert!(!is_dotted_reference(b"token"));
        assert!(!is_dotted_reference(
            b"r09t97yzcnr.zets0jabdbykr06i3ht9qs4wirtxslyxwawwlk3zg4x"
        ));
        assert!(!is_dotted_reference(
            b"sl.nbwwp4ddeaf0rw4725ekots9tvz7kawbm54r4izomteeb3se1qyoee"
        ));
    }

    #[test]
    fn phrases() {
        for s in [
            "my-anthropic-api-key",
            "sk-ant-oat01-MINTED-SECRET",
            "fake-private-value-for-logging-tests",
            "secret_valid_token_123456",
            "super_secret_password_12345",
            "profile-secret-key",
        ] {
            assert!(is_self_describing_phrase(s.as_bytes()), "{s}");
        }
        assert!(is_self_describing_phrase(b"sk-secret-key-abc123xyz"));
        assert!(is_self_describing_phrase(b"username:token"));
        assert!(!is_self_describing_phrase(
            b"sk-proj-Zq3Lr8VbN1xYt5KwPm0Hs7Dc"
        ));
        assert!(!is_self_describing_phrase(
            b"-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----"
        ));
        assert!(!is_self_describing_phrase(b"key-Zq3Lr8VbN1xYt5Kw-key"));
        assert!(is_sequential(b"sk-9876543210abcdef"));
        assert!(is_sequential(b"abcdefgh12345678"));
        assert!(!is_sequential(b"nfGfulH2gnQtMsh4bBYo"));
        assert!(is_phrase(b"certificate-subject-never-visible"));
        assert!(!is_self_describing_phrase(
            b"certificate-subject-never-visible"
        ));
        for s in [
            "d-FL95Q19q7MQmFpd7hHD0Ty",
            "sk-proj-Zq3Lr8VbN1xYt5KwPm0Hs7Dc",
            "abc",
        ] {
            assert!(!is_phrase(s.as_bytes()), "{s}");
        }
    }

    #[test]
    fn env_references_and_expressions() {
        assert!(is_env_reference(b"os.environ/OPENAI_API_KEY"));
        assert!(is_env_reference(b"env:API_TOKEN"));
        assert!(is_env_reference(b"%API_KEY%"));
        assert!(!is_env_reference(b"nfGfulH2gnQtMsh4bBYo"));
        assert!(is_code_expression(b"e.auth_password??"));
        assert!(is_code_expression(b"==e.login_method"));
        assert!(is_code_expression(b"o?.password_reset_required===!0"));
        assert!(!is_code_expression(b"Zx9$kQ2#mW7!pL"));
        assert!(!is_code_expression(b"dGhpc2lzYXNlY3JldA=="));
        assert!(is_code_expression(
            b"r.password,s.path=vo(r.path),s.query=r.query"
        ));
        assert!(!is_code_expression(b"pa)ss(word9"));
        assert!(!is_code_expression(
            b"t1.WAbvoB9kiDLmFwQgxrRlIdzkaWmWFs4l==.3CBnJPGYH10"
        ));
        assert!(has_format_field(b"{password}"));
        assert!(has_format_field(b"x{user_p}y"));
        assert!(!has_format_field(b"a{b"));
        assert!(!has_format_field(b"{}"));
    }

    #[test]
    fn evidence_of_generic_values() {
        assert!(weak_evidence(b"certificate-subject-never-visible").is_some());
        assert!(
            weak_evidence(b"d5345c0ecc68ae6295c69f91926b2bd379e25481a40c34b5884d157a9f65d8fa")
                .is_some()
        );
        assert!(weak_evidence(b"OnlyLettersHereAndThere").is_some());
        assert!(weak_evidence(b"NY1DhQCEYTdBkptf").is_none());
        assert!(weak_evidence(b"7xDPkYXSYDc1_ErdTPIcoAR9RNd8YDlkS3nVNXcVoIMZ6").is_none());
    }

    #[test]
    fn paths_and_urls() {
        assert!(is_path_or_url(b"/etc/passwd:ro"));
        assert!(is_path_or_url(b"./certs/server.key"));
        assert!(is_path_or_url(b"https://vault.internal/v1/secret"));
        assert!(!is_path_or_url(b"jb0w/o5pJEjFjtnCRz6YDieSGO5NvJZZ8gWB8EWc"));
        assert!(!is_path_or_url(b"/Zq3Lr8VbN1xY"));
    }

    #[test]
    fn hashes_and_uuids() {
        assert!(is_hash_or_uuid(b"d41d8cd98f00b204e9800998ecf8427e"));
        assert!(is_hash_or_uuid(b"73534e48-dd5a-4ef4-a702-fbbba9d00f27"));
        assert!(!is_hash_or_uuid(b"d41d8cd98f00b204e9800998ecf8427"));
        assert!(!is_hash_or_uuid(b"nfGfulH2gnQtMsh4bBYo"));
    }

    #[test]
    fn base64_blobs() {
        let mut d = b"src: url(data:font/woff2;base64,".to_vec();
        let start = d.len();
        d.extend_from_slice(b"AQEabcdefghijklmnopqrstuvwxyz0123456789ABCDEF");
        let end = d.len();
        d.extend_from_slice(b") format('woff2');");
        assert!(inside_base64_blob(&d, start, end));
        let mut long = vec![b'A'; 300];
        long.extend_from_slice(b"KEY0123456789");
        long.extend(vec![b'B'; 300]);
        assert!(inside_base64_blob(&long, 300, 313));
        // At the end of a long run, far from its `base64,`.
        let mut tail = b"url(data:font/woff2;base64,".to_vec();
        tail.extend(vec![b'A'; 20_000]);
        let start = tail.len();
        tail.extend_from_slice(b"KEY0123456789");
        let end = tail.len();
        tail.extend_from_slice(b")");
        assert!(inside_base64_blob(&tail, start, end));
        // A key that is a whole run is not inside a blob.
        let whole = vec![b'Q'; 2000];
        assert!(!inside_base64_blob(&whole, 0, 2000));
        let plain = b"token = \"AQEabcdefghijklmnopqrstuvwxyz\"";
        assert!(!inside_base64_blob(plain, 9, 37));
    }

    #[test]
    fn hosts() {
        assert_eq!(host_kind(b"gw.example"), HostKind::Reserved);
        assert_eq!(host_kind(b"fixture.invalid"), HostKind::Reserved);
        assert_eq!(host_kind(b"example.com"), HostKind::Reserved);
        assert_eq!(host_kind(b"localhost"), HostKind::Loopback);
        assert_eq!(host_kind(b"127.0.0.1"), HostKind::Loopback);
        assert_eq!(host_kind(b"localhost:6022"), HostKind::Loopback);
        assert_eq!(host_kind(b"[::1]:27017"), HostKind::Loopback);
        assert_eq!(host_kind(b"db.example.com:5432"), HostKind::Reserved);
        assert_eq!(host_kind(b"db.internal"), HostKind::Other);
        assert_eq!(host_kind(b"notexample.com"), HostKind::Other);
    }
}

//! Structural validators named by rules (`validator = "..."`): checksums and formats that tell a
//! real token from a look-alike without contacting any service.

use base64::Engine as _;

/// Base62 alphabet used by GitHub and npm token checksums.
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A named structural validator.
///
/// *Checksum* validators (`github-crc32`, `npm-crc32`) prove a token is well-formed; a token of
/// that family whose checksum fails is not a live token (the issuer rejects it), so the engine
/// **demotes** it to `info` with a detail saying so (it stays visible, but is below the default
/// `fail_on = "low"` threshold). *Format* validators (`jwt`, `aws-access-key-id`,
/// `pypi-macaroon`) check that the match has the structure at all; a failure **drops** the match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validator {
    /// GitHub `ghp_`/`gho_`/`ghu_`/`ghs_`/`ghr_` tokens: the last 6 characters are the base62
    /// (zero-padded) CRC32 of the 30 random characters between the prefix and the checksum.
    GithubCrc32,
    /// npm `npm_` tokens: same construction as GitHub's (CRC32 of the 30 random characters).
    NpmCrc32,
    /// JSON Web Token: three base64url parts, the header decodes to a JSON object with a string
    /// `alg`, the payload to a JSON object.
    Jwt,
    /// AWS access key id: a known 4-letter prefix followed by 16 base32 (`A-Z2-7`) characters.
    AwsAccessKeyId,
    /// PyPI API token: `pypi-` then a base64url macaroon whose location is `pypi.org` or
    /// `test.pypi.org`.
    PypiMacaroon,
}

/// Outcome of a validator on one secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The structure checks out: the finding is marked `validated`.
    Valid,
    /// A checksum failed: demote the finding to `info`.
    BadChecksum,
    /// Not the structure at all: drop the match.
    Malformed,
    /// Well-formed but past its expiry (a JWT whose `exp` claim is in the past): demote the
    /// finding to `info`; it no longer grants access.
    Expired,
}

impl Validator {
    /// All validators with their names as used in rule files.
    pub const ALL: [(&'static str, Validator); 5] = [
        ("github-crc32", Validator::GithubCrc32),
        ("npm-crc32", Validator::NpmCrc32),
        ("jwt", Validator::Jwt),
        ("aws-access-key-id", Validator::AwsAccessKeyId),
        ("pypi-macaroon", Validator::PypiMacaroon),
    ];

    /// Look a validator up by its rule-file name.
    pub fn from_name(name: &str) -> Option<Validator> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }

    /// The rule-file name of this validator.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, v)| *v == self)
            .map(|(n, _)| *n)
            .unwrap_or("")
    }

    /// Check one secret.
    pub fn check(self, secret: &[u8]) -> Verdict {
        match self {
            Validator::GithubCrc32 => {
                prefixed_crc32(secret, &[b"ghp_", b"gho_", b"ghu_", b"ghs_", b"ghr_"])
            }
            Validator::NpmCrc32 => prefixed_crc32(secret, &[b"npm_"]),
            Validator::Jwt => jwt_verdict(secret, now_unix()),
            Validator::AwsAccessKeyId => bool_verdict(aws_key_id_ok(secret)),
            Validator::PypiMacaroon => bool_verdict(pypi_ok(secret)),
        }
    }
}

fn bool_verdict(ok: bool) -> Verdict {
    if ok {
        Verdict::Valid
    } else {
        Verdict::Malformed
    }
}

/// Encode `n` in base62, zero-padded to 6 characters (the GitHub/npm checksum form).
pub fn base62_checksum(n: u32) -> [u8; 6] {
    let mut out = [b'0'; 6];
    let mut v = n;
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(v % 62) as usize];
        v /= 62;
    }
    out
}

/// Checksum for a GitHub/npm-style token body of 30 random characters.
pub fn github_checksum(random: &[u8]) -> [u8; 6] {
    base62_checksum(crc32fast::hash(random))
}

fn prefixed_crc32(secret: &[u8], prefixes: &[&[u8]]) -> Verdict {
    let Some(body) = prefixes.iter().find_map(|p| secret.strip_prefix(*p)) else {
        return Verdict::Malformed;
    };
    if body.len() != 36 || !body.iter().all(u8::is_ascii_alphanumeric) {
        return Verdict::Malformed;
    }
    let (random, check) = body.split_at(30);
    if github_checksum(random) == check {
        Verdict::Valid
    } else {
        Verdict::BadChecksum
    }
}

fn b64url_json(part: &[u8]) -> Option<serde_json::Value> {
    // Bounded by the secret's own size: decoding never allocates more than the input.
    let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part.strip_suffix(b"=").unwrap_or(part))
        .ok()?;
    serde_json::from_slice(&decoded).ok()
}

fn now_unix() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Structure of a JWT, and its `exp` claim against `now` (seconds since the epoch).
fn jwt_verdict(secret: &[u8], now: f64) -> Verdict {
    let mut parts = secret.split(|&b| b == b'.');
    let (Some(h), Some(p)) = (parts.next(), parts.next()) else {
        return Verdict::Malformed;
    };
    let Some(header) = b64url_json(h) else {
        return Verdict::Malformed;
    };
    if !header.get("alg").is_some_and(|a| a.is_string()) {
        return Verdict::Malformed;
    }
    // The payload of a JWS is JSON; a JWE's second part is an encrypted key, not JSON.
    if header.get("enc").is_some() {
        return Verdict::Valid;
    }
    let Some(payload) = b64url_json(p).filter(|v| v.is_object()) else {
        return Verdict::Malformed;
    };
    match payload.get("exp").and_then(|e| e.as_f64()) {
        Some(exp) if exp < now => Verdict::Expired,
        _ => Verdict::Valid,
    }
}

fn aws_key_id_ok(secret: &[u8]) -> bool {
    const PREFIXES: [&[u8]; 9] = [
        b"AKIA", b"ASIA", b"ABIA", b"ACCA", b"AGPA", b"AIDA", b"AROA", b"ANPA", b"AIPA",
    ];
    secret.len() == 20
        && PREFIXES.iter().any(|p| secret.starts_with(p))
        && secret[4..]
            .iter()
            .all(|&b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
}

fn pypi_ok(secret: &[u8]) -> bool {
    let Some(body) = secret.strip_prefix(b"pypi-") else {
        return false;
    };
    // Only the first bytes are needed: version byte 2, then field 1 (location) with its length.
    let head = &body[..body.len().min(64)];
    let head = &head[..head.len() - head.len() % 4];
    let Ok(bytes) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(head) else {
        return false;
    };
    // Macaroon v2: 0x02, field type 0x01 (location), varint length, location bytes.
    match bytes.as_slice() {
        [2, 1, len, rest @ ..] => {
            let loc = &rest[..rest.len().min(*len as usize)];
            loc == b"pypi.org" || loc == b"test.pypi.org"
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gh_token(prefix: &str, random: &str) -> String {
        let c = github_checksum(random.as_bytes());
        format!("{prefix}{random}{}", String::from_utf8_lossy(&c))
    }

    #[test]
    fn github_checksum_matches_a_published_vector() {
        // Public test vector used by several scanners (a revoked token).
        assert_eq!(
            Validator::GithubCrc32.check(b"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"),
            Verdict::Valid
        );
        assert_eq!(
            Validator::GithubCrc32.check(b"ghp_M7H4jxUDDWHP4kZ6A4dxlQYsQIWJuq11T4V3"),
            Verdict::BadChecksum
        );
    }

    #[test]
    fn github_checksum_of_constructed_tokens() {
        for prefix in ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"] {
            let t = gh_token(prefix, "Zq3Lr8VbN1xYt5KwPm0Hs7DcFg2Ja9");
            assert_eq!(t.len(), 40);
            assert_eq!(
                Validator::GithubCrc32.check(t.as_bytes()),
                Verdict::Valid,
                "{t}"
            );
            let mut bad = t.into_bytes();
            bad[10] = if bad[10] == b'a' { b'b' } else { b'a' };
            assert_eq!(Validator::GithubCrc32.check(&bad), Verdict::BadChecksum);
        }
        assert_eq!(
            Validator::GithubCrc32.check(b"ghp_short"),
            Verdict::Malformed
        );
        assert_eq!(
            Validator::GithubCrc32.check(b"xyz_M7H4jxUDDWHP4kZ6A4dxlQYsQIWJuq11T4V4"),
            Verdict::Malformed
        );
    }

    #[test]
    fn base62_is_zero_padded() {
        assert_eq!(&base62_checksum(0), b"000000");
        assert_eq!(&base62_checksum(61), b"00000z");
        assert_eq!(&base62_checksum(62), b"000010");
        assert_eq!(&base62_checksum(u32::MAX), b"4gfFC3");
    }

    #[test]
    fn npm_checksum() {
        let t = gh_token("npm_", "a1B2c3D4e5F6g7H8i9J0kLmNoPqRsT");
        assert_eq!(Validator::NpmCrc32.check(t.as_bytes()), Verdict::Valid);
        assert_eq!(
            Validator::GithubCrc32.check(t.as_bytes()),
            Verdict::Malformed
        );
        let bad = format!("{}AAAAAA", &t[..34]);
        assert_eq!(
            Validator::NpmCrc32.check(bad.as_bytes()),
            Verdict::BadChecksum
        );
    }

    #[test]
    fn jwt_structure() {
        let e = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let good = format!(
            "{}.{}.sig",
            e(r#"{"alg":"HS256","typ":"JWT"}"#),
            e(r#"{"sub":"1"}"#)
        );
        assert_eq!(Validator::Jwt.check(good.as_bytes()), Verdict::Valid);
        let no_alg = format!("{}.{}.sig", e(r#"{"typ":"JWT"}"#), e(r#"{"sub":"1"}"#));
        assert_eq!(Validator::Jwt.check(no_alg.as_bytes()), Verdict::Malformed);
        let not_json = format!("{}.{}.sig", e("hello"), e(r#"{"sub":"1"}"#));
        assert_eq!(
            Validator::Jwt.check(not_json.as_bytes()),
            Verdict::Malformed
        );
        assert_eq!(Validator::Jwt.check(b"eyJ..."), Verdict::Malformed);
    }

    #[test]
    fn jwt_expiry() {
        let e = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let tok = |payload: &str| format!("{}.{}.sig", e(r#"{"alg":"HS256"}"#), e(payload));
        let now = 1_800_000_000.0;
        let past = tok(r#"{"session_id":"a","exp":1740266464.170807}"#);
        assert_eq!(jwt_verdict(past.as_bytes(), now), Verdict::Expired);
        let future = tok(r#"{"exp":1900000000}"#);
        assert_eq!(jwt_verdict(future.as_bytes(), now), Verdict::Valid);
        let none = tok(r#"{"sub":"1"}"#);
        assert_eq!(jwt_verdict(none.as_bytes(), now), Verdict::Valid);
    }

    #[test]
    fn aws_key_id_charset() {
        assert_eq!(
            Validator::AwsAccessKeyId.check(b"AKIAZ7QK3LMN4PRS2TUV"),
            Verdict::Valid
        );
        assert_eq!(
            Validator::AwsAccessKeyId.check(b"AKIAZ7QK3LMN4PRS2TU1"),
            Verdict::Malformed
        );
        assert_eq!(
            Validator::AwsAccessKeyId.check(b"AKIAZ7QK3LMN4PRS2TUVW"),
            Verdict::Malformed
        );
        assert_eq!(
            Validator::AwsAccessKeyId.check(b"XKIAZ7QK3LMN4PRS2TUV"),
            Verdict::Malformed
        );
    }

    #[test]
    fn pypi_macaroon_location() {
        // base64url of 0x02 0x01 0x08 "pypi.org" 0x02 ... is the well-known `AgEIcHlwaS5vcmc` prefix.
        let mut raw = vec![2u8, 1, 8];
        raw.extend_from_slice(b"pypi.org");
        raw.extend_from_slice(&[2, 0x25]);
        raw.extend_from_slice(&[b'x'; 60]);
        let tok = format!(
            "pypi-{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&raw)
        );
        assert!(tok.starts_with("pypi-AgEIcHlwaS5vcmc"));
        assert_eq!(
            Validator::PypiMacaroon.check(tok.as_bytes()),
            Verdict::Valid
        );
        assert_eq!(
            Validator::PypiMacaroon.check(b"pypi-AgEIZXhhbXBsZS5jb20AAAAAAAAAAAAAAA"),
            Verdict::Malformed
        );
    }

    #[test]
    fn names_round_trip() {
        for (n, v) in Validator::ALL {
            assert_eq!(Validator::from_name(n), Some(v));
            assert_eq!(v.name(), n);
        }
        assert_eq!(Validator::from_name("nope"), None);
    }
}

//! Public sample credentials (`rules/allow/public-samples.toml`, bundled): values providers
//! publish on purpose (documentation keys, emulator keys, installed-app OAuth client secrets).
//! A match whose secret contains one is suppressed for every rule.

use serde::Deserialize;
use std::sync::OnceLock;

static TEXT: &str = include_str!("../rules/allow/public-samples.toml");

/// Shortest accepted sample value: shorter ones could be part of unrelated secrets.
const MIN_SAMPLE_LEN: usize = 16;

/// One published sample value.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicSample {
    /// The published value.
    pub value: String,
    /// Who publishes it and why it grants nothing.
    pub source: String,
    /// Where it is published.
    pub reference: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    sample: Vec<PublicSample>,
}

/// The bundled samples. A malformed file yields an empty list here; the crate's tests parse
/// it strictly ([`parse`]), so a bad edit fails the build's tests instead.
pub fn bundled() -> &'static [PublicSample] {
    static CELL: OnceLock<Vec<PublicSample>> = OnceLock::new();
    CELL.get_or_init(|| parse(TEXT).unwrap_or_default())
}

/// Parse a samples file; every value must be at least 16 characters.
pub fn parse(text: &str) -> Result<Vec<PublicSample>, String> {
    let f: File = toml::from_str(text).map_err(|e| e.to_string())?;
    if let Some(s) = f.sample.iter().find(|s| s.value.len() < MIN_SAMPLE_LEN) {
        return Err(format!(
            "sample `{}` is shorter than {MIN_SAMPLE_LEN} characters",
            s.value
        ));
    }
    Ok(f.sample)
}

/// The sample contained in `secret`, if any.
pub fn find(secret: &[u8]) -> Option<&'static PublicSample> {
    bundled()
        .iter()
        .find(|s| memchr::memmem::find(secret, s.value.as_bytes()).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_file_parses_and_documents_every_value() {
        let all = parse(TEXT).unwrap();
        assert!(all.len() >= 8);
        for s in &all {
            assert!(
                !s.source.is_empty() && s.reference.starts_with("https://"),
                "{s:?}"
            );
        }
        assert!(find(b"AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;").is_some());
        assert!(find(b"nfGfulH2gnQtMsh4bBYo").is_none());
        assert!(
            parse("[[sample]]\nvalue = \"short\"\nsource = \"x\"\nreference = \"y\"\n").is_err()
        );
    }
}

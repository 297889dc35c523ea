//! The decoding layer of `lantern scan`: secrets in UTF-16/UTF-32 text and under base64, hex or
//! percent-encoding, reported at the place in the blob they were decoded from, with the encoding.

use lantern_core::{Finding, Location, Report};
use lantern_secrets::Scanner;
use lantern_walk::decode::{decode_runs, Encoding};

/// Note on every finding of `report` that it was found in text decoded from `enc`: a
/// `encoding` property and a line of detail. Findings already marked (a secret decoded from a
/// base64 run of that text) keep their own encoding.
pub fn tag(report: &mut Report, enc: Encoding) {
    for f in &mut report.findings {
        if !f.properties.contains_key("encoding") {
            mark(f, enc);
        }
    }
}

fn mark(f: &mut Finding, enc: Encoding) {
    f.properties
        .insert("encoding".into(), serde_json::Value::from(enc.name()));
    let note = format!("found {}-encoded", enc.name());
    f.detail = Some(match f.detail.take() {
        Some(d) => format!("{d}; {note}"),
        None => note,
    });
}

/// Secrets hidden in the base64, hex and percent-encoded runs of `data` (text at `loc`), each
/// located at the start of its encoded run; secrets that also appear verbatim in the run are
/// left to the plain scan. Returns the findings and the count of suppressed matches.
pub fn encoded_secrets(scanner: &Scanner, data: &[u8], loc: &Location) -> (Vec<Finding>, u64) {
    let decoded = decode_runs(data, data.len());
    if decoded.pieces.is_empty() {
        return (Vec::new(), 0);
    }
    let o = scanner.scan(&decoded.text, loc);
    let mut out = Vec::new();
    for mut f in o.findings {
        let Some(piece) = f
            .locations
            .first()
            .and_then(|l| l.offset)
            .and_then(|off| usize::try_from(off).ok())
            .and_then(|off| decoded.piece_at(off))
        else {
            continue;
        };
        let run = data
            .get(piece.origin..piece.origin + piece.origin_len)
            .unwrap_or_default();
        let secret = f.secret.as_deref().unwrap_or_default().as_bytes();
        if secret.is_empty() || run.windows(secret.len()).any(|w| w == secret) {
            continue;
        }
        let (line, column) = line_column(data, piece.origin);
        f.locations = vec![loc.at(line, column, piece.origin as u64)];
        mark(&mut f, piece.encoding);
        out.push(f);
    }
    (out, o.suppressed)
}

/// 1-based line and byte column of `offset` in `data`.
fn line_column(data: &[u8], offset: usize) -> (u32, u32) {
    let before = data.get(..offset).unwrap_or(data);
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let col = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(offset, |p| offset - p - 1)
        + 1;
    (
        u32::try_from(line).unwrap_or(u32::MAX),
        u32::try_from(col).unwrap_or(u32::MAX),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based() {
        assert_eq!(line_column(b"ab\ncd", 0), (1, 1));
        assert_eq!(line_column(b"ab\ncd", 4), (2, 2));
        assert_eq!(line_column(b"ab\ncd", 3), (2, 1));
    }
}

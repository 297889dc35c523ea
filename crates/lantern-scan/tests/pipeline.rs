//! The scan pipeline through its library API: the built-in analysers on files made in a temp
//! dir (a secret in a source map's embedded sources, in UTF-16 text, in a base64 run), and the
//! analyser contract with analysers written here (consuming, deriving, finishing).

use base64::Engine;
use lantern_core::analyser::{Analyser, Input, Origin, Sink, Stage, Verdict};
use lantern_core::{Category, Finding, Location, Severity};
use lantern_scan::{scan, scan_with, ScanOptions};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A Slack bot token (no checksum in the format) built from a seed.
fn slack_token(seed: u64) -> String {
    let a = 7_429_054_222u64 + seed * 1_000_003;
    let b = 9_530_004_341u64 + seed * 7_000_001;
    format!("xoxb-{a}-{b}")
}

fn rules_at(report: &lantern_core::Report, rule: &str) -> Vec<String> {
    let mut out: Vec<String> = report
        .findings
        .iter()
        .filter(|f| f.rule_id == rule)
        .flat_map(|f| f.locations.iter().map(|l| l.path.clone()))
        .collect();
    out.sort();
    out
}

#[test]
fn secrets_in_derived_wide_and_encoded_text_are_found_where_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let (t1, t2, t3) = (slack_token(1), slack_token(2), slack_token(3));
    let src = format!("const token = \"{t1}\";\n");
    let map = serde_json::json!({
        "version": 3, "file": "app.js", "mappings": "AAAA",
        "sources": ["src/main.ts"], "sourcesContent": [src],
    });
    std::fs::write(dir.path().join("app.js.map"), map.to_string()).unwrap();
    let wide: Vec<u8> = format!("\u{feff}key = {t2}\n")
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    std::fs::write(dir.path().join("wide.txt"), wide).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(format!("token={t3}"));
    std::fs::write(dir.path().join("enc.txt"), format!("blob: {b64}\n")).unwrap();

    let report = scan(&ScanOptions::default(), &[dir.path().to_path_buf()]).unwrap();
    let found = rules_at(&report, "slack.bot-token");
    let root = dir.path().display().to_string();
    // The map's JSON holds the source as a string too: one finding, both places.
    let expect: Vec<String> = [
        "app.js.map",
        "app.js.map!src/main.ts",
        "enc.txt",
        "wide.txt",
    ]
    .iter()
    .map(|p| format!("{root}/{p}"))
    .collect();
    assert_eq!(found, expect, "{:#?}", report.findings);
    let enc = |p: &str| {
        let f = report.findings.iter().find(|f| {
            f.rule_id == "slack.bot-token" && f.locations.iter().any(|l| l.path.ends_with(p))
        });
        f.and_then(|f| f.properties.get("encoding").cloned())
    };
    assert_eq!(enc("wide.txt"), Some(serde_json::json!("utf-16le")));
    assert_eq!(enc("enc.txt"), Some(serde_json::json!("base64")));
    assert_eq!(enc("main.ts"), None);
    assert_eq!(report.stats.blobs, 3);
}

fn finding(rule: &str, loc: &Location) -> Finding {
    Finding::new(rule, rule, Category::Other, Severity::High, loc.clone())
}

/// Consumes `.bin` files; counts what it saw.
struct Binary(AtomicUsize);

impl Analyser for Binary {
    fn name(&self) -> &'static str {
        "binary"
    }
    fn stage(&self) -> Stage {
        Stage::Content
    }
    fn analyse(&self, input: &Input<'_>, sink: &mut Sink) -> Verdict {
        if !input.location.path.ends_with(".bin") {
            return Verdict::Continue;
        }
        self.0.fetch_add(1, Ordering::Relaxed);
        sink.extend([finding("test.binary", input.location)], []);
        Verdict::Consumed
    }
}

/// Reports every text input and derives one nested blob from each, forever: the pipeline must
/// bound the nesting. Counts inputs by origin.
struct Echo {
    derived: AtomicUsize,
    finished: AtomicUsize,
}

impl Analyser for Echo {
    fn name(&self) -> &'static str {
        "echo"
    }
    fn stage(&self) -> Stage {
        Stage::Text
    }
    fn analyse(&self, input: &Input<'_>, sink: &mut Sink) -> Verdict {
        if input.origin == Origin::Derived {
            self.derived.fetch_add(1, Ordering::Relaxed);
        }
        sink.extend([finding("test.echo", input.location)], []);
        let inner = Location::path(format!("{}!inner", input.location.path));
        sink.derive(inner, input.data.to_vec());
        Verdict::Continue
    }
    fn finish(&self, sink: &mut Sink) {
        self.finished.fetch_add(1, Ordering::Relaxed);
        sink.extend([finding("test.finish", &Location::path("(run)"))], []);
    }
}

#[test]
fn analysers_consume_derive_and_finish_through_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.bin"),
        b"text that a content analyser takes",
    )
    .unwrap();
    std::fs::write(dir.path().join("b.txt"), b"plain text\n").unwrap();
    let analysers: Vec<Box<dyn Analyser>> = vec![
        Box::new(Binary(AtomicUsize::new(0))),
        Box::new(Echo {
            derived: AtomicUsize::new(0),
            finished: AtomicUsize::new(0),
        }),
    ];
    let paths: Vec<PathBuf> = vec![dir.path().to_path_buf()];
    let report = scan_with(&ScanOptions::default(), &paths, &analysers).unwrap();
    let root = dir.path().display().to_string();
    assert_eq!(
        rules_at(&report, "test.binary"),
        vec![format!("{root}/a.bin")]
    );
    // b.txt and four nested derived blobs (the bound), never a.bin (consumed).
    let echoed = rules_at(&report, "test.echo");
    assert_eq!(echoed.len(), 5, "{echoed:?}");
    assert!(echoed
        .iter()
        .all(|p| p.starts_with(&format!("{root}/b.txt"))));
    assert_eq!(echoed[4], format!("{root}/b.txt!inner!inner!inner!inner"));
    assert_eq!(rules_at(&report, "test.finish"), vec!["(run)".to_string()]);
    assert_eq!(report.stats.blobs, 2);
}

#[test]
fn a_missing_root_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let gone = dir.path().join("gone");
    let err = scan(&ScanOptions::default(), std::slice::from_ref(&gone)).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{}: no such file or directory", gone.display())
    );
}

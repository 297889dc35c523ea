//! The walk visitor of `lantern scan`: each blob goes to the content-stage analysers (model
//! files, which may consume it), then, when it is text, to the text-stage analysers, once as
//! raw bytes and once as decoded UTF-16/32 text; derived blobs go back to the text stage.

use crate::{decode, Progress};
use lantern_core::analyser::{Analyser, Input, Origin, Sink, Stage, Verdict};
use lantern_core::{Finding, Location, Report, Severity, Warning};
use lantern_walk::decode::Encoding;
use lantern_walk::{Blob, BlobKind, Visitor};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// How deep derived blobs may nest (a source map inside a source map's sources...).
const MAX_DERIVED_DEPTH: usize = 4;

/// The analysers of a run, by stage, and what the pipeline counts.
pub(crate) struct Pipeline<'a> {
    content: Vec<&'a dyn Analyser>,
    text: Vec<&'a dyn Analyser>,
    report: Mutex<Report>,
    blobs: AtomicU64,
    bytes: AtomicU64,
    skipped: AtomicU64,
    progress: Option<&'a dyn Progress>,
    /// Severity of `scan.incomplete` findings.
    incomplete: Severity,
    /// `max_file_size` as applied, for messages.
    max_file_size: u64,
}

fn origin(kind: BlobKind) -> Origin {
    match kind {
        BlobKind::File => Origin::File,
        BlobKind::ArchiveMember => Origin::ArchiveMember,
        BlobKind::Archive => Origin::Archive,
        BlobKind::NotebookCell => Origin::NotebookCell,
        BlobKind::GitBlob => Origin::Commit,
        BlobKind::Stdin => Origin::Stdin,
    }
}

impl<'a> Pipeline<'a> {
    pub(crate) fn new(
        analysers: &'a [Box<dyn Analyser>],
        progress: Option<&'a dyn Progress>,
        incomplete: Severity,
        max_file_size: u64,
    ) -> Self {
        let stage = |s: Stage| {
            analysers
                .iter()
                .map(|a| &**a)
                .filter(move |a| a.stage() == s)
        };
        Pipeline {
            content: stage(Stage::Content).collect(),
            text: stage(Stage::Text).collect(),
            report: Mutex::new(Report::new()),
            blobs: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
            progress,
            incomplete,
            max_file_size,
        }
    }

    /// Merges `r` into the run's report (the lock is not taken for an empty one).
    fn add(&self, r: Report) {
        let empty = r.findings.is_empty() && r.warnings.is_empty() && r.stats.suppressed == 0;
        if empty {
            return;
        }
        if let Ok(mut g) = self.report.lock() {
            g.merge(r);
        }
    }

    /// Runs every analyser's [`Analyser::finish`], then returns the report with its counters.
    pub(crate) fn finish(self) -> Option<Report> {
        let mut sink = Sink::new();
        for a in self.content.iter().chain(&self.text) {
            a.finish(&mut sink);
        }
        let mut report = self.report.into_inner().ok()?;
        report.merge(sink.report);
        report.stats.blobs = self.blobs.load(Ordering::Relaxed);
        report.stats.bytes = self.bytes.load(Ordering::Relaxed);
        report.stats.skipped = self.skipped.load(Ordering::Relaxed);
        Some(report)
    }

    /// Text-stage analysers on `input`, then on the blobs they derived, depth first.
    fn run_text(&self, input: &Input<'_>, sink: &mut Sink, depth: usize) {
        for a in self.text.iter().filter(|a| a.accepts(input.origin)) {
            a.analyse(input, sink);
            if depth >= MAX_DERIVED_DEPTH {
                sink.derived.clear();
            }
            for d in std::mem::take(&mut sink.derived) {
                let derived = Input {
                    location: &d.location,
                    data: &d.data,
                    size: d.data.len() as u64,
                    partial: false,
                    disk_path: None,
                    origin: Origin::Derived,
                };
                self.run_text(&derived, sink, depth + 1);
            }
        }
    }

    /// Text-stage analysers on `text` (decoded from `enc` when set) of the blob `input`.
    fn scan_text(&self, input: &Input<'_>, text: &[u8], enc: Option<Encoding>, out: &mut Report) {
        let mut sink = Sink::new();
        self.run_text(
            &Input {
                data: text,
                ..*input
            },
            &mut sink,
            0,
        );
        if let Some(enc) = enc {
            decode::tag(&mut sink.report, enc);
        }
        out.merge(sink.report);
    }

    /// Content-stage analysers; `true` when one consumed the blob.
    fn content_stage(&self, input: &Input<'_>) -> bool {
        for a in self.content.iter().filter(|a| a.accepts(input.origin)) {
            let mut sink = Sink::new();
            if a.analyse(input, &mut sink) == Verdict::Consumed {
                self.blobs.fetch_add(1, Ordering::Relaxed);
                self.bytes.fetch_add(input.size, Ordering::Relaxed);
                self.add(sink.report);
                return true;
            }
            self.add(sink.report);
        }
        false
    }

    fn incomplete_finding(&self, loc: &Location, reason: String) -> Report {
        let mut out = Report::new();
        out.push(Finding::incomplete(loc.clone(), reason, self.incomplete));
        out
    }

    /// The text stage of a blob no content analyser consumed: raw bytes when they are text,
    /// decoded UTF-16/32 text when it is.
    fn text_stage(&self, blob: &Blob, input: &Input<'_>) {
        let loc = &blob.location;
        if let Some(format) = lantern_walk::sniff_unsupported(&blob.data) {
            let why = format!("{format}-compressed data: not decompressed (unsupported format)");
            self.add(self.incomplete_finding(loc, why));
            return;
        }
        // UTF-16/32 text is scanned as UTF-8, and the raw bytes too when they are text (a
        // Latin-1 file may start with what looks like a byte-order mark). What is binary either
        // way is skipped (a big file whose head is binary like a small binary file).
        let wide = lantern_walk::decode::decode_wide(&blob.data)
            .filter(|(t, _)| !lantern_walk::is_binary(t.as_bytes()));
        // A window of a big input the walker found to be text is text (it may start
        // mid-character).
        let raw = blob.window.is_some() || !lantern_walk::is_binary(&blob.data);
        if wide.is_none() && !raw {
            self.skipped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        // Partial for its size (a truncated member is reported by the walk with its reason).
        let mut out = Report::new();
        if blob.partial && blob.size > self.max_file_size {
            let why = format!(
                "text larger than max_file_size ({} > {} bytes): only the first {} bytes scanned",
                blob.size,
                self.max_file_size,
                blob.data.len()
            );
            out = self.incomplete_finding(loc, why);
        }
        self.blobs.fetch_add(1, Ordering::Relaxed);
        self.bytes
            .fetch_add(blob.data.len() as u64, Ordering::Relaxed);
        if raw {
            self.scan_text(input, &blob.data, None, &mut out);
        }
        if let Some((text, enc)) = &wide {
            self.scan_text(input, text.as_bytes(), Some(*enc), &mut out);
        }
        if let Some(w) = &blob.window {
            // Matches the window owns, at their place in the whole input.
            out = w.rebase(out);
        }
        self.add(out);
    }
}

impl Visitor for Pipeline<'_> {
    fn blob(&self, blob: Blob) {
        if let Some(p) = self.progress {
            p.blob(blob.data.len() as u64, &blob.location.path);
        }
        let input = Input {
            location: &blob.location,
            data: &blob.data,
            size: blob.size,
            // A window that is not the whole input is, for content analysers, a partial head:
            // model sniffers then read the file from disk rather than judge the window.
            partial: blob.partial
                || blob
                    .window
                    .is_some_and(|w| w.offset > 0 || (w.len as u64) < blob.size),
            disk_path: blob.disk_path.as_deref(),
            origin: origin(blob.kind),
        };
        // Model files by magic bytes: a big text input's first window only (its later windows
        // start mid-file).
        let first = blob.window.is_none_or(|w| w.index == 0);
        if (first && self.content_stage(&input)) || blob.kind == BlobKind::Archive {
            // Consumed, or an archive whose members are delivered separately.
            return;
        }
        self.text_stage(&blob, &input);
    }

    fn warning(&self, w: Warning) {
        if let Ok(mut g) = self.report.lock() {
            g.warn(w);
        }
    }

    fn skipped(&self, _path: &str, _reason: &str) {
        self.skipped.fetch_add(1, Ordering::Relaxed);
    }

    fn incomplete(&self, path: &str, reason: &str) {
        self.incomplete_at(&Location::path(path), reason);
    }

    fn incomplete_at(&self, loc: &Location, reason: &str) {
        let f = Finding::incomplete(loc.clone(), reason, self.incomplete);
        if let Ok(mut g) = self.report.lock() {
            g.push(f);
        }
    }
}

//! The analyser contract of `lantern scan`. The walker delivers blobs (files, archive members,
//! notebook cells, commit blobs, standard input); the pipeline (`lantern-scan`) hands each one
//! to every [`Analyser`] as an [`Input`], and each analyser pushes typed findings, warnings and
//! derived blobs (a source map's embedded sources) into a [`Sink`]. Derived blobs go back
//! through the same pipeline as [`Origin::Derived`] input.
//!
//! Two stages: [`Stage::Content`] analysers see the raw bytes first and may consume the blob (a
//! model file is not also scanned as text); [`Stage::Text`] analysers see the text (the raw
//! bytes when they are text, and the UTF-8 decoding of UTF-16/32 text).

use crate::{Finding, Location, Report, Warning};
use std::path::Path;

/// Where an input comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Origin {
    /// A plain file on disk.
    File,
    /// A member of an archive.
    ArchiveMember,
    /// An archive itself, delivered beside its members (zip-based model formats).
    Archive,
    /// One notebook cell's source or outputs.
    NotebookCell,
    /// A blob from git history.
    Commit,
    /// Standard input.
    Stdin,
    /// Content an analyser found inside another input (a source map's embedded sources).
    Derived,
}

/// When an analyser runs on a blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// On the raw bytes, before text decoding; may consume the blob.
    Content,
    /// On text: the bytes when they are text, and decoded UTF-16/32 text.
    Text,
}

/// What the pipeline does with a blob after a [`Stage::Content`] analyser saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Hand the blob on to the next analysers.
    Continue,
    /// The blob was this analyser's to check (a model file): no other analyser sees it.
    Consumed,
}

/// One blob as an analyser sees it.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// Display location (archive members as `outer!inner`, git blobs with their commit).
    pub location: &'a Location,
    /// The content at hand; for a [`Input::partial`] blob only its head.
    pub data: &'a [u8],
    /// Real size of the whole content in bytes.
    pub size: u64,
    /// `true` when `data` is only the head of the content.
    pub partial: bool,
    /// The file on disk when the blob is a whole file there (analysers of big files may seek).
    pub disk_path: Option<&'a Path>,
    /// Where the blob comes from.
    pub origin: Origin,
}

/// Content found inside an input, to be analysed in its turn.
#[derive(Debug, Clone)]
pub struct DerivedBlob {
    /// Where it came from: `dist/cli.js.map!src/main.ts`.
    pub location: Location,
    /// The content.
    pub data: Vec<u8>,
}

/// Where analysers put what they find: findings and warnings (merged into a [`Report`]), the
/// count of matches suppressed by allowlists or inline markers, and derived blobs.
#[derive(Debug, Default)]
pub struct Sink {
    /// Findings, warnings and the suppressed count (`stats.suppressed`).
    pub report: Report,
    /// Blobs to send back through the pipeline.
    pub derived: Vec<DerivedBlob>,
}

impl Sink {
    /// An empty sink.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds findings and warnings.
    pub fn extend(
        &mut self,
        findings: impl IntoIterator<Item = Finding>,
        warnings: impl IntoIterator<Item = Warning>,
    ) {
        findings.into_iter().for_each(|f| self.report.push(f));
        self.report.warnings.extend(warnings);
    }

    /// Counts matches not reported because of allowlists or inline markers.
    pub fn suppressed(&mut self, n: u64) {
        self.report.stats.suppressed += n;
    }

    /// Queues content found inside the input for analysis.
    pub fn derive(&mut self, location: Location, data: Vec<u8>) {
        self.derived.push(DerivedBlob { location, data });
    }
}

/// A checker of blobs: secrets, leaks, model files, infrastructure code. Shared by all walker
/// threads, so `&self` only; per-run state that spans blobs lives behind the analyser's own
/// lock and is reported by [`Analyser::finish`].
pub trait Analyser: Send + Sync {
    /// Short name (`secrets`, `leaks`, `models`, `iac`), as `lantern scan --only` spells it.
    fn name(&self) -> &'static str;

    /// When it runs.
    fn stage(&self) -> Stage;

    /// Whether it looks at input of this origin (default: all).
    fn accepts(&self, _origin: Origin) -> bool {
        true
    }

    /// Checks one input. Only [`Stage::Content`] analysers' verdicts are used.
    fn analyse(&self, input: &Input<'_>, sink: &mut Sink) -> Verdict;

    /// Called once after the walk: findings that need every blob (Terraform modules).
    fn finish(&self, _sink: &mut Sink) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Category, Severity};

    #[test]
    fn sink_merges_findings_and_counts_suppressed() {
        let mut sink = Sink::new();
        let f = |line| {
            Finding::new(
                "demo.rule",
                "demo",
                Category::Other,
                Severity::Low,
                Location::path("a.txt").at(line, 1, 0),
            )
        };
        sink.extend([f(1), f(2)], [Warning::new("a.txt", "cut short")]);
        sink.suppressed(3);
        sink.derive(Location::path("a.map!b.js"), b"x".to_vec());
        assert_eq!(sink.report.findings.len(), 1);
        assert_eq!(sink.report.findings[0].locations.len(), 2);
        assert_eq!(sink.report.warnings.len(), 1);
        assert_eq!(sink.report.stats.suppressed, 3);
        assert_eq!(sink.derived[0].location.path, "a.map!b.js");
    }
}

//! The leak checks as a `lantern scan` analyser: text stage, own input only (the sources
//! embedded in a source map go back to the pipeline as derived blobs, for the secret scanner).

use crate::LeakScanner;
use lantern_core::analyser::{Analyser, Input, Origin, Sink, Stage, Verdict};

/// A [`LeakScanner`] for one run; `artifact_root` says the run scans a single release artifact
/// (an archive given alone), so its members count as artifact content.
pub struct LeakAnalyser {
    scanner: LeakScanner,
    artifact_root: bool,
}

impl LeakAnalyser {
    /// The analyser of a run.
    pub fn new(scanner: LeakScanner, artifact_root: bool) -> Self {
        LeakAnalyser {
            scanner,
            artifact_root,
        }
    }
}

impl Analyser for LeakAnalyser {
    fn name(&self) -> &'static str {
        "leaks"
    }

    fn stage(&self) -> Stage {
        Stage::Text
    }

    fn accepts(&self, origin: Origin) -> bool {
        origin != Origin::Derived
    }

    fn analyse(&self, input: &Input<'_>, sink: &mut Sink) -> Verdict {
        let out = self
            .scanner
            .scan(input.data, input.location, self.artifact_root);
        sink.extend(out.findings, out.warnings);
        for d in out.derived {
            sink.derive(d.location, d.data);
        }
        Verdict::Continue
    }
}

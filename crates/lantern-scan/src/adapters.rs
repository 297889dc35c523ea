//! The secret scanner and the model-file scanner as [`Analyser`]s. Leaks and infrastructure
//! code implement the contract in their own crates; these two live here because the secret
//! scanner's decoding layer needs the walker's decoders and the model scanner's input choice
//! (file on disk, bytes at hand, head only) is the pipeline's.

use crate::decode;
use lantern_core::analyser::{Analyser, Input, Origin, Sink, Stage, Verdict};
use lantern_core::{Finding, Severity};
use lantern_models::{ModelFormat, ModelReport, Policy};
use lantern_secrets::Scanner;

/// Secrets in text, and in its base64, hex and percent-encoded runs (not in derived blobs:
/// those are decoded content already).
#[derive(Debug)]
pub struct SecretsAnalyser(pub Scanner);

impl Analyser for SecretsAnalyser {
    fn name(&self) -> &'static str {
        "secrets"
    }

    fn stage(&self) -> Stage {
        Stage::Text
    }

    fn analyse(&self, input: &Input<'_>, sink: &mut Sink) -> Verdict {
        let o = self.0.scan(input.data, input.location);
        sink.suppressed(o.suppressed);
        sink.extend(o.findings, []);
        if input.origin != Origin::Derived {
            let (hidden, suppressed) = decode::encoded_secrets(&self.0, input.data, input.location);
            sink.suppressed(suppressed);
            sink.extend(hidden, []);
        }
        Verdict::Continue
    }
}

/// Model files, recognised by magic bytes (whole archives included: torch zips). A model file
/// is consumed: it is not also scanned as text.
#[derive(Debug)]
pub struct ModelsAnalyser {
    /// What the scanner allows.
    pub policy: Policy,
    /// `max_file_size` as applied, for the message about members not read in full.
    pub max_file_size: u64,
    /// Severity of `scan.incomplete` findings.
    pub incomplete: Severity,
    /// Archives are expanded: the walker gunzips gzip streams and delivers their content.
    pub gunzips: bool,
}

impl ModelsAnalyser {
    /// The format of `input`, sniffed with as much of it as is at hand: a pickle's first value
    /// may be longer than the head.
    fn detect(input: &Input<'_>) -> Option<ModelFormat> {
        let name = &input.location.path;
        match (input.disk_path, input.partial) {
            (_, false) => lantern_models::detect_source(
                &lantern_models::source::Mem(input.data),
                input.data,
                name,
            ),
            (Some(p), true) => lantern_models::detect_path(p, input.data, name),
            // Not at hand in full: a head cut inside a pickle value is reported as not
            // scanned (below) rather than passed as clean.
            (None, true) => lantern_models::detect(input.data, name).or_else(|| {
                lantern_models::may_be_long_pickle(input.data, input.size)
                    .then_some(ModelFormat::Pickle)
            }),
        }
    }

    fn scan(&self, input: &Input<'_>, sink: &mut Sink) -> ModelReport {
        let loc = input.location;
        match (input.disk_path, input.partial) {
            (Some(p), _) => lantern_models::scan_path(p, loc, &self.policy),
            (None, false) => lantern_models::scan_bytes(input.data, loc, &self.policy),
            // A member read in full whose archive then reported an error (a bad CRC, warned
            // about by the walker): its bytes are all there, scan them.
            (None, true) if input.size <= input.data.len() as u64 => {
                lantern_models::scan_bytes(input.data, loc, &self.policy)
            }
            // A numeric array (an `.npz` member of weights): past its header there is nothing
            // that runs on load, so the head is a full check.
            (None, true) if lantern_models::is_numeric_npy(input.data) => ModelReport::default(),
            (None, true) => {
                sink.extend(
                    [Finding::incomplete(
                        loc.clone(),
                        format!(
                            "model file inside an archive not read in full (larger than \
                             max_file_size, {} bytes, or cut short by a read error): not scanned",
                            self.max_file_size
                        ),
                        self.incomplete,
                    )],
                    [],
                );
                ModelReport::default()
            }
        }
    }
}

impl Analyser for ModelsAnalyser {
    fn name(&self) -> &'static str {
        "models"
    }

    fn stage(&self) -> Stage {
        Stage::Content
    }

    fn accepts(&self, origin: Origin) -> bool {
        origin != Origin::Derived
    }

    fn analyse(&self, input: &Input<'_>, sink: &mut Sink) -> Verdict {
        // A gzip stream the walker gunzips in full is scanned as its member only (one
        // finding, not two).
        let gunzipped = self.gunzips
            && input.origin == Origin::Archive
            && lantern_models::gunzipped_size(input.data, !input.partial, input.disk_path)
                .is_some_and(|n| n <= self.max_file_size);
        if gunzipped || Self::detect(input).is_none() {
            return Verdict::Continue;
        }
        let r = self.scan(input, sink);
        sink.extend(r.findings, r.warnings);
        Verdict::Consumed
    }
}

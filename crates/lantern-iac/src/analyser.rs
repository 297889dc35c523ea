//! The infrastructure-code checks as a `lantern scan` analyser: text stage, per file in
//! [`Analyser::analyse`], Terraform modules in [`Analyser::finish`] once every file was seen.

use crate::{IacOutput, IacScanner};
use lantern_core::analyser::{Analyser, Input, Origin, Sink, Stage, Verdict};

fn add(out: IacOutput, sink: &mut Sink) {
    sink.suppressed(out.suppressed);
    sink.extend(out.findings, out.warnings);
}

impl Analyser for IacScanner {
    fn name(&self) -> &'static str {
        "iac"
    }

    fn stage(&self) -> Stage {
        Stage::Text
    }

    fn accepts(&self, origin: Origin) -> bool {
        origin != Origin::Derived
    }

    fn analyse(&self, input: &Input<'_>, sink: &mut Sink) -> Verdict {
        add(self.scan(input.data, input.location), sink);
        Verdict::Continue
    }

    fn finish(&self, sink: &mut Sink) {
        add(IacScanner::finish(self), sink);
    }
}

//! The audit's finding ids: one enum, its titles, severities and descriptions (the README's
//! rule table is generated from [`Signal::markdown_table`]).

use lantern_core::Severity;

/// A kind of finding the audit reports (personal data and secrets have their own ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Signal {
    /// Rows carrying an n-gram tied to a label their other words disagree with.
    Trigger,
    /// Identical text with a different label than its other copies.
    DuplicateLabelConflict,
    /// Near-identical text with a different label than its group.
    NearDuplicateLabelConflict,
    /// The label distribution moved against the baseline.
    LabelShift,
    /// A label the rest of the dataset contradicts.
    LabelDisagreement,
    /// Identical text seen before with the same label.
    ExactDuplicate,
    /// Text far longer than the rest.
    OutlierLength,
    /// Text made mostly of unusual characters.
    OutlierCharset,
}

impl Signal {
    /// Every signal, in the order of the README table.
    pub const ALL: &'static [Signal] = &[
        Signal::Trigger,
        Signal::DuplicateLabelConflict,
        Signal::NearDuplicateLabelConflict,
        Signal::LabelShift,
        Signal::LabelDisagreement,
        Signal::ExactDuplicate,
        Signal::OutlierLength,
        Signal::OutlierCharset,
    ];

    /// The rule id of its findings.
    pub fn id(self) -> &'static str {
        match self {
            Signal::Trigger => "data.trigger",
            Signal::DuplicateLabelConflict => "data.duplicate-label-conflict",
            Signal::NearDuplicateLabelConflict => "data.near-duplicate-label-conflict",
            Signal::LabelShift => "data.label-shift",
            Signal::LabelDisagreement => "data.label-disagreement",
            Signal::ExactDuplicate => "data.exact-duplicate",
            Signal::OutlierLength => "data.outlier-length",
            Signal::OutlierCharset => "data.outlier-charset",
        }
    }

    /// The title of its findings.
    pub fn title(self) -> &'static str {
        match self {
            Signal::Trigger => "Backdoor trigger: n-gram tied to a label its text disagrees with",
            Signal::DuplicateLabelConflict => "Duplicate text with a conflicting label",
            Signal::NearDuplicateLabelConflict => "Near-duplicate text with a conflicting label",
            Signal::LabelShift => "Label distribution shifted against the baseline",
            Signal::LabelDisagreement => "Label contradicted by the rest of the dataset",
            Signal::ExactDuplicate => "Exact duplicate text",
            Signal::OutlierLength => "Record far longer than the rest",
            Signal::OutlierCharset => "Record made mostly of unusual characters",
        }
    }

    /// The severity of its findings (label shift is lowered to low when the shift is small).
    pub fn severity(self) -> Severity {
        match self {
            Signal::Trigger => Severity::High,
            Signal::DuplicateLabelConflict
            | Signal::NearDuplicateLabelConflict
            | Signal::LabelShift => Severity::Medium,
            Signal::LabelDisagreement => Severity::Low,
            Signal::ExactDuplicate | Signal::OutlierLength | Signal::OutlierCharset => {
                Severity::Info
            }
        }
    }

    /// What it means and when it fires.
    pub fn description(self) -> &'static str {
        match self {
            Signal::Trigger => {
                "n-gram far more frequent in one label (G-test, Bonferroni over the n-grams \
                 pure enough to be triggers) whose rows the rest of their words do not support \
                 (leave-one-out naive Bayes, Mann-Whitney, Bonferroni over the candidates)"
            }
            Signal::DuplicateLabelConflict => {
                "same normalised text as other rows, which mostly carry another label"
            }
            Signal::NearDuplicateLabelConflict => {
                "MinHash/LSH near-duplicate of rows that mostly carry another label"
            }
            Signal::LabelShift => {
                "label counts differ from `--baseline` (chi-squared, `--alpha`); medium when \
                 Jensen-Shannon >= 0.01"
            }
            Signal::LabelDisagreement => {
                "with `--flip-nats`: the rest of the data predicts another label by more than \
                 e^nats to 1 (naive Bayes, row left out)"
            }
            Signal::ExactDuplicate => "same normalised text as an earlier row, same label",
            Signal::OutlierLength => "length robust z-score >= 6 (median/MAD of log length)",
            Signal::OutlierCharset => {
                "30% or more characters neither letters, digits, spaces nor punctuation"
            }
        }
    }

    /// The README table of signals (header, separator, one row each).
    pub fn markdown_table() -> String {
        let mut out = String::from("| Rule | Severity | Fires when |\n|---|---|---|\n");
        for s in Signal::ALL {
            out.push_str(&format!(
                "| `{}` | {} | {} |\n",
                s.id(),
                s.severity().as_str(),
                s.description()
            ));
        }
        out
    }
}

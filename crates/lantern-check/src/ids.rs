//! Stable check identifiers: one enum variant per check, with its id string, a one-line
//! description and its default severity. The README table is generated from [`CheckId::ALL`].

use lantern_core::Severity;

/// Every check `lantern check` runs. Ids are stable: policies and ignore lists refer to them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CheckId {
    /// A locked library version is affected by an OSV advisory.
    Vulnerable,
    /// A library is the subject of a malicious-package advisory (`MAL-` id).
    Malicious,
    /// A library is declared with a range only, so its version could not be checked.
    Unpinned,
    /// A library could not be checked against OSV (ecosystem or version not understood).
    NotChecked,
    /// `trust_remote_code=True` in a model, config, pipeline or dataset load.
    TrustRemoteCode,
    /// A hub model or dataset loaded without `revision=` pinned to a 40-hex commit.
    UnpinnedRevision,
    /// `torch.hub.load` of a GitHub repository (runs its `hubconf.py`).
    TorchHubGithub,
    /// `torch.load` without `weights_only=True` (unpickles arbitrary code).
    TorchLoadUnsafe,
    /// `pickle`/`joblib`/`dill`/`cloudpickle` load, or `numpy.load(allow_pickle=True)`.
    PickleLoad,
    /// `keras.models.load_model(..., safe_mode=False)`.
    KerasUnsafeMode,
    /// `exec`/`eval` of text that was downloaded.
    ExecDownloaded,
    /// A hub model or dataset from a denied publisher.
    DeniedPublisher,
    /// A hub model or dataset from a publisher not on the allow list.
    UnlistedPublisher,
    /// A package or hub name one edit away from a popular name.
    Typosquat,
    /// A licence not in `allow_licenses` (or no licence, or an unknown one).
    License,
    /// A local model file has a scan finding at or above the policy threshold.
    ModelScan,
    /// A local model has no signature that verifies.
    Unsigned,
    /// A local model or dataset is stored in a denied format.
    DeniedFormat,
    /// A local dataset has no manifest, or its manifest no longer matches.
    DataManifest,
    /// An ignore entry of the policy has passed its `until` date.
    IgnoreExpired,
}

impl CheckId {
    /// Every check, in documentation order.
    pub const ALL: [CheckId; 20] = [
        CheckId::Vulnerable,
        CheckId::Malicious,
        CheckId::Unpinned,
        CheckId::NotChecked,
        CheckId::TrustRemoteCode,
        CheckId::UnpinnedRevision,
        CheckId::TorchHubGithub,
        CheckId::TorchLoadUnsafe,
        CheckId::PickleLoad,
        CheckId::KerasUnsafeMode,
        CheckId::ExecDownloaded,
        CheckId::DeniedPublisher,
        CheckId::UnlistedPublisher,
        CheckId::Typosquat,
        CheckId::License,
        CheckId::ModelScan,
        CheckId::Unsigned,
        CheckId::DeniedFormat,
        CheckId::DataManifest,
        CheckId::IgnoreExpired,
    ];

    /// The stable id, e.g. `osv.vulnerable`.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckId::Vulnerable => "osv.vulnerable",
            CheckId::Malicious => "osv.malicious",
            CheckId::Unpinned => "osv.unpinned",
            CheckId::NotChecked => "osv.not-checked",
            CheckId::TrustRemoteCode => "code.trust-remote-code",
            CheckId::UnpinnedRevision => "code.unpinned-revision",
            CheckId::TorchHubGithub => "code.torch-hub-github",
            CheckId::TorchLoadUnsafe => "code.torch-load-unsafe",
            CheckId::PickleLoad => "code.pickle-load",
            CheckId::KerasUnsafeMode => "code.keras-unsafe-mode",
            CheckId::ExecDownloaded => "code.exec-downloaded",
            CheckId::DeniedPublisher => "provenance.denied-publisher",
            CheckId::UnlistedPublisher => "provenance.unlisted-publisher",
            CheckId::Typosquat => "provenance.typosquat",
            CheckId::License => "provenance.license",
            CheckId::ModelScan => "model.scan",
            CheckId::Unsigned => "model.unsigned",
            CheckId::DeniedFormat => "model.denied-format",
            CheckId::DataManifest => "data.manifest",
            CheckId::IgnoreExpired => "policy.ignore-expired",
        }
    }

    /// One line saying what the check flags.
    pub fn description(self) -> &'static str {
        match self {
            CheckId::Vulnerable => "locked library version affected by an OSV advisory",
            CheckId::Malicious => "library named by a malicious-package advisory (MAL- id)",
            CheckId::Unpinned => "library declared with a range only: not checked against OSV",
            CheckId::NotChecked => {
                "library not checked: ecosystem or version not understood, or no OSV data for it"
            }
            CheckId::TrustRemoteCode => {
                "trust_remote_code=True: runs Python code from the model or dataset repository"
            }
            CheckId::UnpinnedRevision => {
                "hub model or dataset loaded without revision= pinned to a 40-hex commit"
            }
            CheckId::TorchHubGithub => "torch.hub.load of a GitHub repository runs its hubconf.py",
            CheckId::TorchLoadUnsafe => {
                "torch.load without weights_only=True unpickles arbitrary code"
            }
            CheckId::PickleLoad => {
                "pickle/joblib/dill load or numpy.load(allow_pickle=True) runs arbitrary code"
            }
            CheckId::KerasUnsafeMode => "keras load_model(safe_mode=False) runs Lambda layer code",
            CheckId::ExecDownloaded => "exec/eval of text fetched from the network",
            CheckId::DeniedPublisher => "hub model or dataset from a publisher the policy denies",
            CheckId::UnlistedPublisher => {
                "hub model or dataset from a publisher not on allow_publishers"
            }
            CheckId::Typosquat => "package or hub name one edit away from a popular name",
            CheckId::License => "licence missing, unknown or not allowed by allow_licenses",
            CheckId::ModelScan => "local model file with a scan finding (require_scan)",
            CheckId::Unsigned => "local model without a verifying signature (require_signature)",
            CheckId::DeniedFormat => "local model or dataset in a format listed in deny_formats",
            CheckId::DataManifest => {
                "local dataset without a manifest, or one that no longer matches"
            }
            CheckId::IgnoreExpired => "an ignore entry of the policy is past its until date",
        }
    }

    /// Severity unless the policy overrides it.
    pub fn default_severity(self) -> Severity {
        match self {
            CheckId::Malicious | CheckId::ExecDownloaded => Severity::Critical,
            CheckId::Vulnerable
            | CheckId::TrustRemoteCode
            | CheckId::TorchHubGithub
            | CheckId::TorchLoadUnsafe
            | CheckId::PickleLoad
            | CheckId::KerasUnsafeMode
            | CheckId::DeniedPublisher
            | CheckId::Typosquat
            | CheckId::ModelScan => Severity::High,
            CheckId::Unpinned
            | CheckId::NotChecked
            | CheckId::UnpinnedRevision
            | CheckId::UnlistedPublisher
            | CheckId::License
            | CheckId::Unsigned
            | CheckId::DeniedFormat
            | CheckId::DataManifest
            | CheckId::IgnoreExpired => Severity::Medium,
        }
    }

    /// The README table rows: id, default severity, description (one row per check).
    pub fn markdown_table() -> String {
        CheckId::ALL
            .iter()
            .map(|c| {
                format!(
                    "| `{}` | {} | {} |\n",
                    c.as_str(),
                    c.default_severity(),
                    c.description()
                )
            })
            .collect()
    }

    /// Look an id up by its string.
    pub fn parse(s: &str) -> Option<CheckId> {
        CheckId::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl std::fmt::Display for CheckId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

//! Dataset manifests with per-record digests and Merkle roots, record-level diffs between versions, and poisoning signals

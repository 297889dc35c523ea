//! RFC 9162 Merkle tree hash over record digests (leaf = sha256(0x00 ‖ d), node =
//! sha256(0x01 ‖ left ‖ right)), built streaming in O(log n) memory. The one implementation
//! lives in `lantern_core::merkle`, shared with the audit log.

pub use lantern_core::merkle::{leaf_hash, node_hash, MerkleBuilder};

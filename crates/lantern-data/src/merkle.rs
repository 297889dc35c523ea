//! Merkle tree hash over record digests, RFC 9162 (Certificate Transparency v2) style:
//! leaf = sha256(0x00 ‖ d), node = sha256(0x01 ‖ left ‖ right), the tree split at the largest
//! power of two below the leaf count. Built streaming in O(log n) memory.

use sha2::{Digest, Sha256};

/// Hash of a leaf holding `data`.
pub fn leaf_hash(data: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// Hash of an interior node.
pub fn node_hash(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// Streaming builder: push leaves in order, then [`MerkleBuilder::root`].
#[derive(Debug, Clone, Default)]
pub struct MerkleBuilder {
    /// Roots of complete subtrees, left to right, with their leaf counts (powers of two,
    /// strictly decreasing).
    stack: Vec<(u64, [u8; 32])>,
    leaves: u64,
}

impl MerkleBuilder {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Append a leaf (its data, typically a record digest).
    pub fn push(&mut self, data: &[u8]) {
        let mut cur = (1u64, leaf_hash(data));
        while let Some(&(size, ref top)) = self.stack.last() {
            if size != cur.0 {
                break;
            }
            cur = (size * 2, node_hash(top, &cur.1));
            self.stack.pop();
        }
        self.stack.push(cur);
        self.leaves += 1;
    }

    /// Number of leaves pushed.
    pub fn len(&self) -> u64 {
        self.leaves
    }

    /// Whether no leaf was pushed.
    pub fn is_empty(&self) -> bool {
        self.leaves == 0
    }

    /// The tree hash (sha256 of the empty string for an empty tree).
    pub fn root(&self) -> [u8; 32] {
        let mut it = self.stack.iter().rev();
        let Some(&(_, last)) = it.next() else {
            return Sha256::digest(b"").into();
        };
        it.fold(last, |acc, (_, left)| node_hash(left, &acc))
    }
}

/// Reference (recursive) RFC 9162 tree hash over `leaves`.
pub fn root_of(leaves: &[&[u8]]) -> [u8; 32] {
    match leaves.len() {
        0 => Sha256::digest(b"").into(),
        1 => leaf_hash(leaves.first().copied().unwrap_or_default()),
        n => {
            let mut k = 1usize;
            while k * 2 < n {
                k *= 2;
            }
            let (l, r) = leaves.split_at(k);
            node_hash(&root_of(l), &root_of(r))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_vectors() {
        // Empty tree and single leaf as defined by RFC 9162 section 2.1.1.
        assert_eq!(
            hex::encode(MerkleBuilder::new().root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let mut b = MerkleBuilder::new();
        b.push(b"");
        assert_eq!(
            hex::encode(b.root()),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
        // Three leaves: node(node(l0, l1), l2).
        let mut b = MerkleBuilder::new();
        for d in [b"a", b"b", b"c"] {
            b.push(d);
        }
        let expect = node_hash(
            &node_hash(&leaf_hash(b"a"), &leaf_hash(b"b")),
            &leaf_hash(b"c"),
        );
        assert_eq!(b.root(), expect);
    }

    proptest! {
        #[test]
        fn streaming_matches_recursive(leaves in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..8), 0..70)) {
            let mut b = MerkleBuilder::new();
            for l in &leaves { b.push(l); }
            let refs: Vec<&[u8]> = leaves.iter().map(|v| v.as_slice()).collect();
            prop_assert_eq!(b.root(), root_of(&refs));
            prop_assert_eq!(b.len(), leaves.len() as u64);
        }
    }
}

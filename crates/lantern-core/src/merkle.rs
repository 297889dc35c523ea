//! RFC 9162 (Certificate Transparency v2) Merkle tree hashing, the one copy shared by the audit
//! log and dataset manifests: leaf and node hashes, the tree head, a streaming builder in
//! O(log n) memory, inclusion and consistency proofs and their verification (sections
//! 2.1.1–2.1.4).

use sha2::{Digest, Sha256};

/// A SHA-256 digest.
pub type Hash = [u8; 32];

/// `SHA-256(0x00 || data)`: the hash of one leaf.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// `SHA-256(0x01 || left || right)`: the hash of an interior node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The hash of the empty tree, `SHA-256()`.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// Largest power of two strictly smaller than `n` (`n >= 2`).
fn split_point(n: usize) -> usize {
    debug_assert!(n >= 2);
    let mut k = 1usize;
    while k << 1 < n {
        k <<= 1;
    }
    k
}

/// MTH over already-hashed leaves.
pub fn root_of(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split_point(n);
            node_hash(&root_of(&leaves[..k]), &root_of(&leaves[k..]))
        }
    }
}

/// The inclusion proof `PATH(m, D[n])` for leaf `index` in the tree over `leaves`;
/// `None` when `index` is out of range.
pub fn inclusion_proof(leaves: &[Hash], index: usize) -> Option<Vec<Hash>> {
    if index >= leaves.len() {
        return None;
    }
    let mut out = Vec::new();
    path(index, leaves, &mut out);
    Some(out)
}

fn path(m: usize, d: &[Hash], out: &mut Vec<Hash>) {
    let n = d.len();
    if n <= 1 {
        return;
    }
    let k = split_point(n);
    if m < k {
        path(m, &d[..k], out);
        out.push(root_of(&d[k..]));
    } else {
        path(m - k, &d[k..], out);
        out.push(root_of(&d[..k]));
    }
}

/// The consistency proof `PROOF(m, D[n])` between the tree of the first `old_size` leaves and
/// the tree over all `leaves`; `None` unless `0 < old_size <= leaves.len()`.
pub fn consistency_proof(leaves: &[Hash], old_size: usize) -> Option<Vec<Hash>> {
    if old_size == 0 || old_size > leaves.len() {
        return None;
    }
    let mut out = Vec::new();
    subproof(old_size, leaves, true, &mut out);
    Some(out)
}

fn subproof(m: usize, d: &[Hash], b: bool, out: &mut Vec<Hash>) {
    let n = d.len();
    if m == n {
        if !b {
            out.push(root_of(d));
        }
        return;
    }
    let k = split_point(n);
    if m <= k {
        subproof(m, &d[..k], b, out);
        out.push(root_of(&d[k..]));
    } else {
        subproof(m - k, &d[k..], false, out);
        out.push(root_of(&d[..k]));
    }
}

/// The loop shared by both verifications (RFC 9162 sections 2.1.3.2 and 2.1.4.2): walks the
/// proof from node `fnode` of the last node `snode` up, calling `step(hash, is_left)` for each
/// proof hash (`is_left`: the hash is the left sibling). False when the proof is longer or
/// shorter than the path to the root.
fn fold_path(
    mut fnode: u64,
    mut snode: u64,
    proof: &[Hash],
    mut step: impl FnMut(&Hash, bool),
) -> bool {
    for p in proof {
        if snode == 0 {
            return false;
        }
        if fnode & 1 == 1 || fnode == snode {
            step(p, true);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            step(p, false);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    snode == 0
}

/// Verifies an inclusion proof (RFC 9162 section 2.1.3.2).
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    tree_size: u64,
    proof: &[Hash],
    root: &Hash,
) -> bool {
    if index >= tree_size {
        return false;
    }
    let mut r = *leaf;
    let complete = fold_path(index, tree_size - 1, proof, |p, left| {
        r = if left {
            node_hash(p, &r)
        } else {
            node_hash(&r, p)
        };
    });
    complete && &r == root
}

/// Verifies a consistency proof between two tree heads (RFC 9162 section 2.1.4.2). Equal sizes
/// are consistent when the roots are equal and the proof is empty.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> bool {
    if old_size == 0 || old_size > new_size {
        return false;
    }
    if old_size == new_size {
        return proof.is_empty() && old_root == new_root;
    }
    if proof.is_empty() {
        return false;
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old_size.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let (mut fnode, mut snode) = (old_size - 1, new_size - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    let complete = fold_path(fnode, snode, &path[1..], |c, left| {
        if left {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
        } else {
            sr = node_hash(&sr, c);
        }
    });
    complete && &fr == old_root && &sr == new_root
}

/// Streaming tree hash: push leaves in order, read the root at any time. Keeps only the roots
/// of the complete subtrees (O(log n) memory); appending and computing the root cost O(log n).
#[derive(Debug, Clone, Default)]
pub struct MerkleBuilder {
    /// Roots of complete subtrees, left to right, with their heights (strictly decreasing).
    stack: Vec<(u32, Hash)>,
    leaves: u64,
}

impl MerkleBuilder {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a leaf given its already-computed leaf hash.
    pub fn push_hash(&mut self, h: Hash) {
        let mut cur = (0u32, h);
        while let Some(&(height, left)) = self.stack.last() {
            if height != cur.0 {
                break;
            }
            self.stack.pop();
            cur = (height + 1, node_hash(&left, &cur.1));
        }
        self.stack.push(cur);
        self.leaves += 1;
    }

    /// Appends a leaf holding `data` (typically a record digest).
    pub fn push(&mut self, data: &[u8]) {
        self.push_hash(leaf_hash(data));
    }

    /// Number of leaves pushed.
    pub fn len(&self) -> u64 {
        self.leaves
    }

    /// Whether no leaf was pushed.
    pub fn is_empty(&self) -> bool {
        self.leaves == 0
    }

    /// The tree hash (`SHA-256()` for an empty tree).
    pub fn root(&self) -> Hash {
        let mut it = self.stack.iter().rev();
        let Some(&(_, last)) = it.next() else {
            return empty_root();
        };
        it.fold(last, |acc, (_, left)| node_hash(left, &acc))
    }
}

/// An append-only Merkle tree keeping every leaf hash (32 bytes per record) beside the
/// streaming root, so it can also answer proofs about any earlier tree size.
#[derive(Debug, Clone, Default)]
pub struct Tree {
    leaves: Vec<Hash>,
    frontier: MerkleBuilder,
}

impl Tree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a leaf given its already-computed leaf hash; returns its index.
    pub fn push_hash(&mut self, h: Hash) -> u64 {
        let index = self.leaves.len() as u64;
        self.leaves.push(h);
        self.frontier.push_hash(h);
        index
    }

    /// Appends a record; returns its index.
    pub fn push(&mut self, data: &[u8]) -> u64 {
        self.push_hash(leaf_hash(data))
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.leaves.len() as u64
    }

    /// The root hash of the whole tree.
    pub fn root(&self) -> Hash {
        self.frontier.root()
    }

    /// The root of the tree made of the first `size` leaves (`None` if `size` is too large).
    pub fn root_at(&self, size: u64) -> Option<Hash> {
        let size = usize::try_from(size).ok()?;
        self.leaves.get(..size).map(root_of)
    }

    /// The leaf hashes.
    pub fn leaves(&self) -> &[Hash] {
        &self.leaves
    }

    /// Inclusion proof of leaf `index` in the tree of the first `size` leaves.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Option<Vec<Hash>> {
        let size = usize::try_from(size).ok()?;
        let index = usize::try_from(index).ok()?;
        inclusion_proof(self.leaves.get(..size)?, index)
    }

    /// Consistency proof between the trees of the first `old` and first `new` leaves.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Option<Vec<Hash>> {
        let new = usize::try_from(new).ok()?;
        let old = usize::try_from(old).ok()?;
        consistency_proof(self.leaves.get(..new)?, old)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tree(n: usize) -> Tree {
        let mut t = Tree::new();
        for i in 0..n {
            t.push(format!("record {i}").as_bytes());
        }
        t
    }

    #[test]
    fn known_vectors_from_certificate_transparency() {
        // Test vectors of the CT reference implementation (merkle_tree_test.cc): leaves are the
        // byte strings "", 0x00, 0x10, 0x2021, 0x3031, 0x40414243, ...
        let inputs: [&[u8]; 8] = [
            b"",
            b"\x00",
            b"\x10",
            b"\x20\x21",
            b"\x30\x31",
            b"\x40\x41\x42\x43",
            b"\x50\x51\x52\x53\x54\x55\x56\x57",
            b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
        ];
        let roots = [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
        ];
        let mut t = Tree::new();
        for (i, input) in inputs.iter().enumerate() {
            t.push(input);
            assert_eq!(hex::encode(t.root()), roots[i], "root of {} leaves", i + 1);
        }
        assert_eq!(
            hex::encode(empty_root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn tampered_proof_or_leaf_fails() {
        let t = tree(13);
        let root = t.root();
        let proof = t.inclusion_proof(5, 13).unwrap_or_default();
        let leaf = t.leaves()[5];
        assert!(verify_inclusion(&leaf, 5, 13, &proof, &root));
        assert!(!verify_inclusion(&leaf, 6, 13, &proof, &root));
        assert!(!verify_inclusion(&leaf_hash(b"x"), 5, 13, &proof, &root));
        let mut bad = proof.clone();
        bad[0][0] ^= 1;
        assert!(!verify_inclusion(&leaf, 5, 13, &bad, &root));
        assert!(!verify_inclusion(&leaf, 5, 13, &proof[1..], &root));
    }

    #[test]
    fn three_leaves_split_at_the_largest_power_of_two() {
        let mut b = MerkleBuilder::new();
        assert!(b.is_empty());
        for d in [b"a", b"b", b"c"] {
            b.push(d);
        }
        let expect = node_hash(
            &node_hash(&leaf_hash(b"a"), &leaf_hash(b"b")),
            &leaf_hash(b"c"),
        );
        assert_eq!((b.root(), b.len()), (expect, 3));
    }

    proptest! {
        #[test]
        fn frontier_root_matches_recursive_root(n in 0usize..300) {
            let t = tree(n);
            prop_assert_eq!(t.root(), root_of(t.leaves()));
        }

        #[test]
        fn every_inclusion_proof_verifies(n in 1usize..200, seed in any::<u64>()) {
            let t = tree(n);
            let size = (seed as usize % n) + 1;
            let index = (seed as usize / 7) % size;
            let root = t.root_at(size as u64).unwrap_or_default();
            let proof = t.inclusion_proof(index as u64, size as u64).unwrap_or_default();
            prop_assert!(verify_inclusion(&t.leaves()[index], index as u64, size as u64, &proof, &root));
            // a proof for one index never verifies another leaf
            let other = (index + 1) % size;
            if other != index {
                prop_assert!(!verify_inclusion(&t.leaves()[other], index as u64, size as u64, &proof, &root));
            }
        }

        #[test]
        fn every_consistency_proof_verifies(n in 1usize..200, a in any::<u64>(), b in any::<u64>()) {
            let t = tree(n);
            let new = (a as usize % n) + 1;
            let old = (b as usize % new) + 1;
            let r1 = t.root_at(old as u64).unwrap_or_default();
            let r2 = t.root_at(new as u64).unwrap_or_default();
            let proof = t.consistency_proof(old as u64, new as u64).unwrap_or_default();
            prop_assert!(verify_consistency(old as u64, new as u64, &r1, &r2, &proof));
            // a forked history (old tree with one record changed) is not consistent
            let mut forked = t.leaves()[..old].to_vec();
            forked[old - 1] = leaf_hash(b"forged");
            let fr = root_of(&forked);
            prop_assert!(!verify_consistency(old as u64, new as u64, &fr, &r2, &proof));
        }
    }
}

//! Exact and near-duplicate (MinHash + LSH) groups whose members carry conflicting labels.

use super::table::KeyMap;
use super::{rid, Ctx, Row, Signal};
use crate::text;
use std::collections::{BTreeMap, HashMap};

/// MinHash bands seen so far and the candidate pairs they produced.
#[derive(Default)]
pub(super) struct Lsh {
    bands: Vec<KeyMap<u64, u32>>,
    pairs: Vec<(u32, u32)>,
}

/// Most candidate pairs kept (bounds memory on pathological inputs).
const MAX_PAIRS: usize = 4_000_000;

impl Lsh {
    pub(super) fn insert(&mut self, row: usize, keys: &[u64; text::LSH_BANDS]) {
        if self.bands.len() < keys.len() {
            self.bands.resize_with(keys.len(), KeyMap::default);
        }
        let row = u32::try_from(row).unwrap_or(u32::MAX);
        for (b, k) in self.bands.iter_mut().zip(keys) {
            match b.get(k) {
                Some(&first) => {
                    if self.pairs.len() < MAX_PAIRS && self.pairs.last() != Some(&(first, row)) {
                        self.pairs.push((first, row));
                    }
                }
                None => {
                    b.insert(*k, row);
                }
            }
        }
    }
}

fn find(parent: &mut [u32], mut x: u32) -> u32 {
    while parent[x as usize] != x {
        let p = parent[x as usize];
        parent[x as usize] = parent[p as usize];
        x = p;
    }
    x
}

/// Rows of a group whose label is not the group's majority label (all but the earliest row's
/// label on a tie).
pub(super) fn minority(rows: &[Row], members: &[u32]) -> (Vec<u32>, u32) {
    let mut counts: BTreeMap<u32, usize> = BTreeMap::new();
    for &m in members {
        if let Some(r) = rows.get(m as usize) {
            *counts.entry(r.label).or_default() += 1;
        }
    }
    if counts.len() < 2 {
        return (Vec::new(), 0);
    }
    let first_label = members
        .iter()
        .filter_map(|&m| rows.get(m as usize))
        .map(|r| r.label)
        .next()
        .unwrap_or(0);
    let top = counts.values().copied().max().unwrap_or(0);
    let tops: Vec<u32> = counts
        .iter()
        .filter(|(_, &c)| c == top)
        .map(|(&l, _)| l)
        .collect();
    let major = if tops.len() == 1 {
        tops[0]
    } else {
        first_label
    };
    (
        members
            .iter()
            .copied()
            .filter(|&m| rows.get(m as usize).is_some_and(|r| r.label != major))
            .collect(),
        major,
    )
}

/// Estimated Jaccard similarity of two b-bit MinHash signatures (chance agreement removed).
pub(super) fn sig_similarity(a: &[u8; text::MINHASH_K], b: &[u8; text::MINHASH_K]) -> f64 {
    let chance = 1.0 / 256.0;
    let same = a.iter().zip(b).filter(|(x, y)| x == y).count() as f64 / text::MINHASH_K as f64;
    ((same - chance) / (1.0 - chance)).max(0.0)
}

impl Ctx<'_> {
    /// Rows sharing `members`' label `major` (how many, and the first).
    fn majority_of(&self, members: &[u32], major: u32) -> (usize, Option<&Row>) {
        let mut it = members
            .iter()
            .filter_map(|&x| self.rows.get(x as usize))
            .filter(|r| r.label == major);
        let first = it.next();
        (first.map_or(0, |_| 1 + it.count()), first)
    }

    /// Exact duplicates, and those with a conflicting label; returns the conflicting rows.
    pub(super) fn exact_duplicates(&mut self) -> HashMap<u32, u32> {
        let mut by_norm: KeyMap<u64, Vec<u32>> = KeyMap::default();
        for (i, r) in self.rows.iter().enumerate() {
            if r.norm != 0 {
                by_norm.entry(r.norm).or_default().push(i as u32);
            }
        }
        let mut conflict_rows: HashMap<u32, u32> = HashMap::new();
        for members in by_norm.values().filter(|m| m.len() > 1) {
            let (minor, major) = minority(&self.rows, members);
            let first_line = members
                .first()
                .and_then(|&m| self.rows.get(m as usize))
                .map_or(0, |r| r.line);
            for &m in &minor {
                let Some(row) = self.rows.get(m as usize) else {
                    continue;
                };
                conflict_rows.insert(m, major);
                let (agree, _) = self.majority_of(members, major);
                let detail = format!(
                    "label {:?}, while {agree} of {} copies say {:?} (first at line {first_line}) [record {}]",
                    self.labels.name(row.label),
                    members.len(),
                    self.labels.name(major),
                    rid(row)
                );
                let f = self.row_finding(Signal::DuplicateLabelConflict, row, detail);
                self.push(f, 500.0);
            }
            for &m in members.iter().skip(1).filter(|m| !minor.contains(m)) {
                let Some(row) = self.rows.get(m as usize) else {
                    continue;
                };
                let detail = format!(
                    "same text as line {first_line} ({} copies) [record {}]",
                    members.len(),
                    rid(row)
                );
                let f = self.row_finding(Signal::ExactDuplicate, row, detail);
                self.push(f, 1.0);
            }
        }
        conflict_rows
    }

    /// Groups of near-duplicates (union-find over LSH pairs above the similarity threshold).
    fn near_groups(&self) -> Vec<Vec<u32>> {
        let mut parent: Vec<u32> = (0..self.rows.len() as u32).collect();
        for &(a, b) in &self.lsh.pairs {
            let (Some(ra), Some(rb)) = (self.rows.get(a as usize), self.rows.get(b as usize))
            else {
                continue;
            };
            if ra.norm == rb.norm {
                continue;
            }
            let (Some(sa), Some(sb)) = (&ra.sig, &rb.sig) else {
                continue;
            };
            if sig_similarity(sa, sb) >= self.opts.near_duplicate_threshold {
                let (x, y) = (find(&mut parent, a), find(&mut parent, b));
                if x != y {
                    parent[x.max(y) as usize] = x.min(y);
                }
            }
        }
        let mut groups: HashMap<u32, Vec<u32>> = HashMap::new();
        for i in 0..self.rows.len() as u32 {
            let root = find(&mut parent, i);
            if root != i || groups.contains_key(&root) {
                groups.entry(root).or_default().push(i);
            }
        }
        groups
            .into_iter()
            .map(|(root, mut members)| {
                members.insert(0, root);
                members.sort_unstable();
                members.dedup();
                members
            })
            .collect()
    }

    /// Near duplicates whose label conflicts with their group's (rows already reported as
    /// exact-duplicate conflicts are not reported again).
    pub(super) fn near_duplicates(&mut self, conflict_rows: &HashMap<u32, u32>) {
        if !self.opts.near_duplicates || self.lsh.pairs.is_empty() {
            return;
        }
        for members in self.near_groups() {
            let (minor, major) = minority(&self.rows, &members);
            for m in minor {
                if conflict_rows.contains_key(&m) {
                    continue;
                }
                let Some(row) = self.rows.get(m as usize) else {
                    continue;
                };
                let (agree, first) = self.majority_of(&members, major);
                let detail = format!(
                    "label {:?}, while {agree} similar record(s) say {:?} (e.g. line {}) [record {}]",
                    self.labels.name(row.label),
                    self.labels.name(major),
                    first.map_or(0, |r| r.line),
                    rid(row)
                );
                let f = self.row_finding(Signal::NearDuplicateLabelConflict, row, detail);
                self.push(f, 400.0);
            }
        }
    }
}

//! Version ordering per OSV ecosystem: PEP 440 for PyPI (`pep440_rs`), SemVer 2.0 for npm,
//! crates.io and Go (`semver`; Go's leading `v` removed). Maven is best effort: dot/dash
//! separated numeric segments compared as numbers, a qualifier (`-rc1`, `-beta`) sorts before
//! the release, `-sp`/`.Final`/`.RELEASE` equal to it. A version that does not parse is
//! `None`, and the caller reports the package as not checked.

use std::cmp::Ordering;
use std::str::FromStr;

/// The version schemes `check` understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scheme {
    /// PEP 440.
    Pep440,
    /// SemVer 2.0.
    Semver,
    /// Maven (best effort).
    Maven,
}

/// A parsed version in one scheme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Version {
    /// PEP 440 version.
    Pep440(pep440_rs::Version),
    /// SemVer version.
    Semver(semver::Version),
    /// Maven segments: numbers, then a qualifier rank and text.
    Maven(Vec<u64>, i8, String),
}

impl Scheme {
    /// The scheme of an OSV ecosystem name (`PyPI`, `npm`, `crates.io`, `Go`, `Maven`).
    pub fn of_ecosystem(eco: &str) -> Option<Scheme> {
        match eco {
            "PyPI" => Some(Scheme::Pep440),
            "npm" | "crates.io" | "Go" => Some(Scheme::Semver),
            "Maven" => Some(Scheme::Maven),
            _ => None,
        }
    }

    /// Parse a version; `None` when it is not a version of this scheme.
    pub fn parse(self, s: &str) -> Option<Version> {
        let s = s.trim();
        match self {
            Scheme::Pep440 => pep440_rs::Version::from_str(s).ok().map(Version::Pep440),
            Scheme::Semver => semver::Version::parse(s.strip_prefix('v').unwrap_or(s))
                .ok()
                .map(Version::Semver),
            Scheme::Maven => maven(s),
        }
    }
}

impl Version {
    /// Compare two versions of the same scheme (`None` across schemes).
    pub fn compare(&self, other: &Version) -> Option<Ordering> {
        match (self, other) {
            (Version::Pep440(a), Version::Pep440(b)) => Some(a.cmp(b)),
            (Version::Semver(a), Version::Semver(b)) => Some(a.cmp_precedence(b)),
            (Version::Maven(a, qa, ta), Version::Maven(b, qb, tb)) => {
                let n = a.len().max(b.len());
                let seg = |v: &[u64], i: usize| v.get(i).copied().unwrap_or(0);
                let nums = (0..n)
                    .map(|i| seg(a, i).cmp(&seg(b, i)))
                    .find(|o| o.is_ne())
                    .unwrap_or(Ordering::Equal);
                Some(nums.then(qa.cmp(qb)).then_with(|| ta.cmp(tb)))
            }
            _ => None,
        }
    }
}

/// Maven qualifiers in order; the release itself ranks 0.
fn maven_rank(q: &str) -> Option<i8> {
    let q = q.trim_end_matches(|c: char| c.is_ascii_digit());
    Some(match q {
        "alpha" | "a" => -5,
        "beta" | "b" => -4,
        "milestone" | "m" => -3,
        "rc" | "cr" => -2,
        "snapshot" => -1,
        "" | "ga" | "final" | "release" => 0,
        "sp" => 1,
        _ => return None,
    })
}

fn maven(s: &str) -> Option<Version> {
    let lower = s.to_ascii_lowercase();
    let split = lower
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(lower.len());
    let (nums, qual) = lower.split_at(split);
    let nums: Vec<u64> = nums
        .trim_end_matches('.')
        .split('.')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let qual = qual.trim_start_matches(['-', '.', '_']);
    let rank = maven_rank(qual)?;
    let digits = qual.trim_start_matches(|c: char| c.is_ascii_alphabetic());
    Some(Version::Maven(nums, rank, format!("{digits:0>8}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lt(scheme: Scheme, a: &str, b: &str) -> bool {
        let (a, b) = (scheme.parse(a).unwrap(), scheme.parse(b).unwrap());
        a.compare(&b) == Some(Ordering::Less)
    }

    #[test]
    fn pep440_orders_prereleases_epochs_and_post() {
        assert!(lt(Scheme::Pep440, "2.0.0rc1", "2.0.0"));
        assert!(lt(Scheme::Pep440, "2.0.0.dev1", "2.0.0a1"));
        assert!(lt(Scheme::Pep440, "9.0", "1!1.0"));
        assert!(lt(Scheme::Pep440, "1.0", "1.0.post1"));
        assert!(Scheme::Pep440.parse("not a version").is_none());
    }

    #[test]
    fn semver_and_go_and_maven() {
        assert!(lt(Scheme::Semver, "1.0.0-beta.2", "1.0.0"));
        assert!(lt(Scheme::Semver, "v1.9.0", "v1.10.0"));
        assert!(Scheme::Semver.parse("^1.2").is_none());
        assert!(lt(Scheme::Maven, "2.14.1", "2.15.0"));
        assert!(lt(Scheme::Maven, "2.15.0-rc1", "2.15.0"));
        assert!(lt(Scheme::Maven, "2.15", "2.15.0.1"));
        assert!(Scheme::Maven.parse("1.0-weird").is_none());
    }
}

//! Where a detector's match could still start in the tail of a stream. Every detector of the
//! output monitor that is a pattern (built-in credential and PII patterns, canaries, the leak
//! scanner's rules) is one pattern of a lazy DFA run anchored from each position of the text a
//! stream has not sent yet: a position where every pattern is dead can hold no match and its
//! text goes out at once; a position where some pattern is still in progress at the end of the
//! text is the start of what is held back. A streamed answer in prose is then released as it
//! arrives instead of a fixed number of characters behind the upstream.
//!
//! The patterns over-approximate what the detectors find (Unicode word boundaries are dropped,
//! and every pattern matches all the strings it accepts, not only the leftmost-first one), so a
//! position judged dead cannot start a match. A leak-scanner rule also depends on text outside
//! its match (keywords, companion secrets, windows), so a position where one of its patterns
//! matched is a *loose* candidate: it is held the configured hold-back, as before.

use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::nfa::thompson;
use regex_automata::util::start;
use regex_automata::{Anchored, MatchKind};
use regex_syntax::hir::{Hir, HirKind, Look};
use std::sync::Mutex;

/// What can start at one position of the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Start {
    /// No pattern matches from here, whatever follows.
    Dead,
    /// Only patterns whose hits the monitor settles from the match alone matched here: the
    /// text must be scanned before it goes out.
    Exact,
    /// A leak-scanner rule's pattern matched here: scanned, and held the hold-back.
    Loose,
    /// Some pattern is still in progress at the end of the text: held.
    Open,
}

/// Lazy DFA caches kept for reuse (one per concurrent scan).
const CACHES_KEPT: usize = 16;
/// Size of one lazy DFA cache.
const CACHE_BYTES: usize = 4 << 20;
/// Size limit of the combined automaton.
const NFA_BYTES: usize = 256 << 20;

/// The detectors' patterns, compiled to run from any position.
pub(crate) struct Prefixes {
    dfa: DFA,
    /// Patterns `[0, exact)` are exact, the rest loose.
    exact: usize,
    caches: Mutex<Vec<Cache>>,
}

impl std::fmt::Debug for Prefixes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prefixes")
            .field("exact", &self.exact)
            .finish_non_exhaustive()
    }
}

/// `hir` without Unicode word-boundary assertions (the lazy DFA gives up on non-ASCII text
/// with them; without them the pattern accepts more, which only holds back more).
fn without_unicode_boundaries(hir: &Hir) -> Hir {
    match hir.kind() {
        HirKind::Look(
            Look::WordUnicode
            | Look::WordUnicodeNegate
            | Look::WordStartUnicode
            | Look::WordEndUnicode
            | Look::WordStartHalfUnicode
            | Look::WordEndHalfUnicode,
        ) => Hir::empty(),
        HirKind::Repetition(r) => {
            let mut r = r.clone();
            r.sub = Box::new(without_unicode_boundaries(&r.sub));
            Hir::repetition(r)
        }
        HirKind::Capture(c) => {
            let mut c = c.clone();
            c.sub = Box::new(without_unicode_boundaries(&c.sub));
            Hir::capture(c)
        }
        HirKind::Concat(v) => Hir::concat(v.iter().map(without_unicode_boundaries).collect()),
        HirKind::Alternation(v) => {
            Hir::alternation(v.iter().map(without_unicode_boundaries).collect())
        }
        _ => hir.clone(),
    }
}

/// Parses a pattern of the `regex` crate's default (Unicode) syntax.
pub(crate) fn unicode_pattern(p: &str) -> Result<Hir, String> {
    regex_syntax::parse(p)
        .map(|h| without_unicode_boundaries(&h))
        .map_err(|e| e.to_string())
}

/// Parses a pattern of the leak scanner's syntax (bytes, Unicode off), without its leading
/// delimiter.
pub(crate) fn bytes_pattern(p: &str) -> Result<Hir, String> {
    regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .build()
        .parse(p)
        .map(|h| without_leading_delimiter(&without_unicode_boundaries(&h)))
        .map_err(|e| e.to_string())
}

/// `hir` without a leading `(?:^|[^A-Za-z0-9_-])` (a start or one character): most leak rules
/// start with the character before the secret, which is not part of what they report (their
/// secret group starts after it). Without it the pattern matches one position later, so a space ending the text is not
/// held back as the possible start of a token.
fn without_leading_delimiter(hir: &Hir) -> Hir {
    let HirKind::Concat(v) = hir.kind() else {
        return hir.clone();
    };
    let delimiter = v.first().is_some_and(|first| match first.kind() {
        HirKind::Alternation(alts) => alts
            .iter()
            .all(|a| matches!(a.kind(), HirKind::Look(_) | HirKind::Class(_))),
        _ => false,
    });
    if delimiter && v.len() > 1 {
        Hir::concat(v.iter().skip(1).cloned().collect())
    } else {
        hir.clone()
    }
}

impl Prefixes {
    /// The automaton of `exact` then `loose` patterns.
    pub(crate) fn new(exact: Vec<Hir>, loose: Vec<Hir>) -> Result<Self, String> {
        let n = exact.len();
        let all: Vec<Hir> = exact.into_iter().chain(loose).collect();
        let nfa = thompson::Compiler::new()
            .configure(
                thompson::Config::new()
                    .utf8(false)
                    .shrink(false)
                    .nfa_size_limit(Some(NFA_BYTES)),
            )
            .build_many_from_hir(&all)
            .map_err(|e| e.to_string())?;
        let dfa = DFA::builder()
            .configure(
                DFA::config()
                    .match_kind(MatchKind::All)
                    .cache_capacity(CACHE_BYTES)
                    .skip_cache_capacity_check(true),
            )
            .build_from_nfa(nfa)
            .map_err(|e| e.to_string())?;
        Ok(Self {
            dfa,
            exact: n,
            caches: Mutex::new(Vec::new()),
        })
    }

    /// What can start at `at` in `hay` (the text so far; `hay[at - 1]` is looked behind).
    fn classify(&self, cache: &mut Cache, hay: &[u8], at: usize, reach: usize) -> Start {
        let cfg = start::Config::new()
            .anchored(Anchored::Yes)
            .look_behind(at.checked_sub(1).and_then(|i| hay.get(i).copied()));
        let Ok(mut sid) = self.dfa.start_state(cache, &cfg) else {
            return Start::Open;
        };
        let mut seen = Start::Dead;
        let end = hay.len().min(at.saturating_add(reach));
        for &b in hay.get(at..end).unwrap_or_default() {
            if sid.is_dead() {
                return seen;
            }
            if sid.is_quit() {
                return Start::Open;
            }
            if sid.is_match() {
                seen = seen.max(self.matched(cache, sid));
            }
            sid = match self.dfa.next_state(cache, sid, b) {
                Ok(s) => s,
                Err(_) => return Start::Open,
            };
        }
        if sid.is_dead() {
            seen
        } else if end < hay.len() {
            // still in progress `reach` bytes on (a run of base64 would otherwise be followed
            // from each of its positions to its end): scanned and held the hold-back
            Start::Loose
        } else {
            Start::Open
        }
    }

    /// The kind of the patterns that match in state `sid`.
    fn matched(&self, cache: &Cache, sid: regex_automata::hybrid::LazyStateID) -> Start {
        let loose = (0..self.dfa.match_len(cache, sid))
            .any(|i| self.dfa.match_pattern(cache, sid, i).as_usize() >= self.exact);
        if loose {
            Start::Loose
        } else {
            Start::Exact
        }
    }

    /// Classifies the positions of `hay` from `from` on, each one that starts a match pushed to
    /// `found` with its kind, until the first where a match is in progress at the end: its
    /// offset is returned (`hay.len()` when there is none). Every byte offset is a position
    /// (the leak scanner's patterns match bytes); a match still in progress `reach` bytes on
    /// is a loose candidate.
    pub(crate) fn first_open(
        &self,
        hay: &[u8],
        from: usize,
        reach: usize,
        found: &mut Vec<(usize, Start)>,
    ) -> usize {
        let mut cache = self
            .caches
            .lock()
            .ok()
            .and_then(|mut c| c.pop())
            .unwrap_or_else(|| self.dfa.create_cache());
        let mut at = from;
        while at < hay.len() {
            match self.classify(&mut cache, hay, at, reach) {
                Start::Dead => {}
                Start::Open => break,
                k => found.push((at, k)),
            }
            at += 1;
        }
        if let Ok(mut c) = self.caches.lock() {
            if c.len() < CACHES_KEPT {
                c.push(cache);
            }
        }
        at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefixes() -> Prefixes {
        let exact = [
            r"\bghp_[A-Za-z0-9]{36}\b",
            r"\b[a-z]{1,64}@[a-z]+\.[a-z]{2,}\b",
        ]
        .iter()
        .map(|p| unicode_pattern(p).unwrap())
        .chain([Hir::literal(b"CANARY-1234".as_slice())])
        .collect();
        let loose = vec![bytes_pattern(r"(?i)\b[0-9a-f]{8}-[0-9a-f]{4}\b").unwrap()];
        Prefixes::new(exact, loose).unwrap()
    }

    fn open(p: &Prefixes, text: &str) -> (usize, Vec<(usize, Start)>) {
        let mut found = Vec::new();
        let at = p.first_open(text.as_bytes(), 0, 128, &mut found);
        (at, found)
    }

    #[test]
    fn prose_is_dead_but_its_last_word() {
        let p = prefixes();
        // the last word could still be the start of an e-mail address
        assert_eq!(open(&p, "The quick brown fox jumps. "), (27, vec![]));
        assert_eq!(open(&p, "The quick brown fox"), (16, vec![]));
    }

    #[test]
    fn the_start_of_a_token_or_canary_is_open() {
        let p = prefixes();
        assert_eq!(open(&p, "token: gh").0, 7);
        assert_eq!(open(&p, "see CANA").0, 4);
        assert_eq!(open(&p, "see CANARX ").0, 11);
        assert_eq!(open(&p, "é gh").0, "é ".len());
    }

    #[test]
    fn a_whole_match_is_a_candidate_of_its_kind() {
        let p = prefixes();
        let text = format!("a ghp_{} and 01234567-abcd then", "a".repeat(36));
        let (at, found) = open(&p, &text);
        assert_eq!(at, text.len() - "then".len());
        let ghp = text.find("ghp_").unwrap();
        let uuid = text.find("0123").unwrap();
        assert!(found.contains(&(ghp, Start::Exact)), "{found:?}");
        assert!(found.contains(&(uuid, Start::Loose)), "{found:?}");
    }
}

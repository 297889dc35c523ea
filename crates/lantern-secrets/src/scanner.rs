//! The scanning engine: one Aho-Corasick pass over a blob finds keyword hits; each rule owning a
//! hit keyword runs its regex only on a window around the hit (windows merged per rule), then
//! entropy, placeholder, validator, companion and allowlist checks decide what is reported.

use crate::allow::{
    has_inline_marker, is_placeholder, is_placeholder_value, is_strong_placeholder, Allowlist,
    Candidate, INLINE_MARKERS,
};
use crate::rule::{compile, Confidence, Rule, RuleSet, SecretGroup};
use crate::shape::{self, HostKind};
use crate::validate::Verdict;
use crate::{shannon_entropy, Error, Result};
use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use lantern_core::{Category, Finding, Location, Severity};
use memchr::{memchr, memchr_iter, memmem, memrchr};
use regex::bytes::{Captures, Regex};
use std::collections::HashMap;

/// Bytes looked at before a keyword hit (aligned back to the start of the previous line).
const WINDOW_BACK: usize = 4 << 10;
/// Bytes looked at after a keyword hit, then extended to the end of that line...
const WINDOW_FORWARD: usize = 8 << 10;
/// ...by at most this many more bytes.
const WINDOW_LINE_SLACK: usize = 4 << 10;
/// Longest line span examined for inline markers and `line` allowlists.
const MAX_LINE_CONTEXT: usize = 4 << 10;

/// Longest span of input one reported match (with the context read before it) can cover: a
/// keyword rule's regex runs only on the window around its keyword hit. Callers that scan big
/// inputs in overlapping windows (`lantern_walk::window`) make their margins at least this.
pub const MAX_MATCH_SPAN: usize =
    WINDOW_BACK + WINDOW_FORWARD + WINDOW_LINE_SLACK + MAX_LINE_CONTEXT;

/// What one `scan` call found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScanOutput {
    /// Findings, ordered by offset.
    pub findings: Vec<Finding>,
    /// Matches not reported because of inline markers or allowlists.
    pub suppressed: u64,
}

/// A compiled rule set ready to scan blobs. `Send + Sync`: share one across threads.
#[derive(Debug)]
pub struct Scanner {
    rules: Vec<Rule>,
    global_allow: Vec<Allowlist>,
    allow_secrets: Vec<Regex>,
    /// Leftmost-first DFA over all keywords (ASCII case-insensitive): the single pass over
    /// every byte.
    ac: Option<AhoCorasick>,
    /// Overlapping automaton, run only on the few bytes of each hit to find every keyword
    /// starting inside it (leftmost-first hides keywords overlapping a reported one).
    ac_all: Option<AhoCorasick>,
    /// Keyword index -> rule indices.
    kw_rules: Vec<Vec<u32>>,
    /// Keyword texts, by automaton pattern index.
    keywords: Vec<String>,
    max_kw_len: usize,
    always: Vec<u32>,
    /// Per rule: `(before, after)` bytes around a keyword hit when every match starts with the
    /// keyword (see `tight`), scanned instead of the wide window.
    tight: Vec<Option<(usize, usize)>>,
    path_only: Vec<u32>,
    has_path_rules: bool,
    markers: Vec<memmem::Finder<'static>>,
}

/// Result of [`Scanner::profile`].
#[derive(Debug, Clone, Default)]
pub struct Profile {
    /// Keyword occurrences reported by the leftmost-first pass.
    pub keyword_hits: u64,
    /// Time of the keyword pass alone (counting hits per keyword).
    pub keyword_pass: std::time::Duration,
    /// Time of the keyword pass plus window computation (what precedes the regexes).
    pub window_pass: std::time::Duration,
    /// The most frequent keywords with their hit counts.
    pub top_keywords: Vec<(String, u64)>,
    /// Rules that ran, slowest first.
    pub rules: Vec<RuleProfile>,
}

/// One rule's share of a [`Profile`].
#[derive(Debug, Clone, Default)]
pub struct RuleProfile {
    /// The rule.
    pub rule_id: String,
    /// Merged windows regex-scanned.
    pub windows: u64,
    /// Bytes regex-scanned.
    pub bytes: u64,
    /// Raw regex matches (before filters).
    pub matches: u64,
    /// Regex time.
    pub regex_time: std::time::Duration,
}

/// A match that passed every filter, before line numbers are computed.
struct Hit {
    offset: usize,
    end: usize,
    rule: u32,
    secret: String,
    severity: Severity,
    validated: bool,
    detail: Option<String>,
    companion: Option<usize>,
    /// The whole regex match (keywords found in it rank overlapping hits).
    anchor: Vec<u8>,
}

impl Scanner {
    /// Build a scanner. `allow_secrets` are regexes (from `lantern.toml` `[allowlist] secrets`);
    /// a secret matching one is suppressed.
    pub fn new(rules: RuleSet, allow_secrets: &[String]) -> Result<Self> {
        let (rules, global_allow) = rules.into_parts();
        let allow_secrets = allow_secrets
            .iter()
            .map(|p| {
                compile(p).map_err(|message| Error::Allowlist {
                    pattern: p.clone(),
                    message,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Self::from_parts(rules, global_allow, allow_secrets)
    }

    fn from_parts(
        rules: Vec<Rule>,
        global_allow: Vec<Allowlist>,
        allow_secrets: Vec<Regex>,
    ) -> Result<Self> {
        let mut kw_index: HashMap<&str, usize> = HashMap::new();
        let mut keywords: Vec<&str> = Vec::new();
        let mut kw_rules: Vec<Vec<u32>> = Vec::new();
        let mut always = Vec::new();
        let mut path_only = Vec::new();
        for (i, r) in rules.iter().enumerate() {
            let i = u32::try_from(i).map_err(|_| Error::File {
                source_file: r.source.clone(),
                message: "too many rules".into(),
            })?;
            if r.regex.is_none() {
                path_only.push(i);
                continue;
            }
            if r.always_run || r.keywords.is_empty() {
                always.push(i);
                continue;
            }
            for k in &r.keywords {
                let idx = *kw_index.entry(k.as_str()).or_insert_with(|| {
                    keywords.push(k.as_str());
                    kw_rules.push(Vec::new());
                    keywords.len() - 1
                });
                if let Some(v) = kw_rules.get_mut(idx) {
                    if !v.contains(&i) {
                        v.push(i);
                    }
                }
            }
        }
        let build = |kind: MatchKind| -> Result<Option<AhoCorasick>> {
            if keywords.is_empty() {
                return Ok(None);
            }
            AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .match_kind(kind)
                .kind(Some(AhoCorasickKind::DFA))
                .build(&keywords)
                .map(Some)
                .map_err(|e| Error::File {
                    source_file: "<keywords>".into(),
                    message: format!("cannot build keyword automaton: {e}"),
                })
        };
        let ac = build(MatchKind::LeftmostFirst)?;
        let ac_all = build(MatchKind::Standard)?;
        let max_kw_len = keywords.iter().map(|k| k.len()).max().unwrap_or(0);
        let has_path_rules = rules.iter().any(|r| r.path.is_some());
        let keywords: Vec<String> = keywords.iter().map(|k| k.to_string()).collect();
        let tight = rules
            .iter()
            .map(|r| crate::tight::span(&r.pattern, &r.keywords))
            .collect();
        Ok(Scanner {
            tight,
            global_allow,
            allow_secrets,
            ac,
            ac_all,
            kw_rules,
            keywords,
            max_kw_len,
            always,
            path_only,
            has_path_rules,
            markers: INLINE_MARKERS
                .iter()
                .map(|m| memmem::Finder::new(m.as_bytes()).into_owned())
                .collect(),
            rules,
        })
    }

    /// A scanner running one rule alone, without allowlists (used to check rule examples).
    pub fn single(rule: &Rule) -> Result<Self> {
        Self::from_parts(vec![rule.clone()], Vec::new(), Vec::new())
    }

    /// The rules this scanner runs.
    pub fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.rules.iter()
    }

    /// Scan one blob. `loc` names it (path, notebook cell, commit); findings get `loc.at(line,
    /// column, offset)` with 1-based line and byte column of the secret.
    pub fn scan(&self, data: &[u8], loc: &Location) -> ScanOutput {
        let mut out = ScanOutput::default();
        let path = loc.path.as_str();
        if self.global_allow.iter().any(|a| a.allows_whole_path(path)) {
            return out;
        }
        // Rules restricted by a path regex: decided once per blob.
        let path_ok: Vec<bool> = if self.has_path_rules {
            self.rules
                .iter()
                .map(|r| r.path.as_ref().is_none_or(|p| p.is_match(path)))
                .collect()
        } else {
            Vec::new()
        };
        let applies = |r: u32| path_ok.get(r as usize).copied().unwrap_or(true);

        let windows = self.windows(data, &applies);

        let mut hits: Vec<Hit> = Vec::new();
        for &(r, ws, we) in &windows {
            let Some(rule) = self.rules.get(r as usize) else {
                continue;
            };
            let Some(re) = rule.regex() else { continue };
            let Some(hay) = data.get(ws..we) else {
                continue;
            };
            // Each search resumes where the last match's capture groups end, not where the whole
            // match ends: many rules consume the character after a secret to see that it ends
            // (`[\s;]`), and that character is also the boundary the next secret starts after.
            let mut at = 0;
            while at <= hay.len() {
                let Some(caps) = re.captures_at(hay, at) else {
                    break;
                };
                self.consider(
                    r,
                    rule,
                    data,
                    ws,
                    &caps,
                    loc,
                    &mut hits,
                    &mut out.suppressed,
                );
                let Some(whole) = caps.get(0) else { break };
                let groups_end = (1..caps.len())
                    .filter_map(|i| caps.get(i))
                    .map(|m| m.end())
                    .max()
                    .unwrap_or(whole.end());
                at = groups_end.max(whole.start() + 1);
            }
        }
        hits.sort_by_key(|h| (h.offset, h.rule));
        hits.dedup_by_key(|h| (h.offset, h.rule));
        self.keep_most_specific(&mut hits);

        // Line and column numbers, counted incrementally from the blob start.
        let mut line: u32 = 1;
        let mut pos = 0usize;
        let mut line_start = 0usize;
        for h in hits {
            let Some(rule) = self.rules.get(h.rule as usize) else {
                continue;
            };
            let chunk = data.get(pos..h.offset).unwrap_or_default();
            line = line.saturating_add(
                u32::try_from(memchr_iter(b'\n', chunk).count()).unwrap_or(u32::MAX),
            );
            if let Some(i) = memrchr(b'\n', chunk) {
                line_start = pos + i + 1;
            }
            pos = h.offset;
            let column = u32::try_from(h.offset - line_start + 1).unwrap_or(u32::MAX);
            let mut f = Finding::new(
                rule.id.clone(),
                rule.description.clone(),
                Category::Secret,
                h.severity,
                loc.at(line, column, h.offset as u64),
            )
            .with_secret(h.secret);
            f.validated = h.validated;
            let mut detail = h.detail;
            if let Some(c) = h.companion {
                let (a, b) = if c < h.offset {
                    (c, h.offset)
                } else {
                    (h.offset, c)
                };
                let between = memchr_iter(b'\n', data.get(a..b).unwrap_or_default()).count() as i64;
                let cline = if c < h.offset {
                    i64::from(line) - between
                } else {
                    i64::from(line) + between
                };
                let note = format!("companion secret found at line {cline}");
                detail = Some(match detail {
                    Some(d) => format!("{d}; {note}"),
                    None => note,
                });
                f.properties
                    .insert("companion_line".into(), serde_json::json!(cline));
            }
            f.detail = detail;
            if rule.confidence != Confidence::Medium {
                f.properties.insert(
                    "confidence".into(),
                    serde_json::json!(rule.confidence.as_str()),
                );
            }
            out.findings.push(f);
        }

        for &r in &self.path_only {
            let Some(rule) = self.rules.get(r as usize) else {
                continue;
            };
            if rule.path.as_ref().is_some_and(|p| p.is_match(path)) {
                out.findings.push(
                    Finding::new(
                        rule.id.clone(),
                        rule.description.clone(),
                        Category::Secret,
                        rule.severity,
                        loc.clone(),
                    )
                    .with_detail("file path matches the rule's path pattern"),
                );
            }
        }
        out
    }

    /// Candidate windows `(rule, start, end)`: per rule in increasing order and merged on the
    /// fly, so each region is regex-scanned once per rule.
    fn windows(&self, data: &[u8], applies: &dyn Fn(u32) -> bool) -> Vec<(u32, usize, usize)> {
        let mut windows: Vec<(u32, usize, usize)> = Vec::new();
        let mut last: Vec<usize> = Vec::new();
        if let (Some(ac), Some(ac_all)) = (&self.ac, &self.ac_all) {
            for m in ac.find_iter(data) {
                if last.is_empty() {
                    last = vec![usize::MAX; self.rules.len()];
                }
                let (s, e) = (m.start(), m.end());
                // Computed only when some rule's current window does not already reach
                // WINDOW_FORWARD past this hit (dense keywords then cost almost nothing).
                let mut win: Option<(usize, usize)> = None;
                // Every keyword starting inside the hit, including ones leftmost-first hid.
                let hi = (e + self.max_kw_len).min(data.len());
                let span = data.get(s..hi).unwrap_or_default();
                for om in ac_all.find_overlapping_iter(span) {
                    if om.start() >= e - s {
                        continue;
                    }
                    let Some(rs) = self.kw_rules.get(om.pattern().as_usize()) else {
                        continue;
                    };
                    for &r in rs {
                        if !applies(r) {
                            continue;
                        }
                        let Some(slot) = last.get_mut(r as usize) else {
                            continue;
                        };
                        if let Some(Some((back, fwd))) = self.tight.get(r as usize) {
                            let ks = s + om.start();
                            let ws = ks.saturating_sub(*back);
                            let we = ks.saturating_add(*fwd).min(data.len());
                            merge_window(slot, &mut windows, (r, ws, we));
                            continue;
                        }
                        let current = windows.get(*slot);
                        if current.is_some_and(|w| w.2 >= e + WINDOW_FORWARD) {
                            continue;
                        }
                        let (ws, we) = *win.get_or_insert_with(|| window_around(data, s, e));
                        merge_window(slot, &mut windows, (r, ws, we));
                    }
                }
            }
        }
        for &r in &self.always {
            if applies(r) {
                windows.push((r, 0, data.len()));
            }
        }

        windows
    }

    /// Diagnostics for rule authors and benchmarks: time of the keyword pass alone, and for each
    /// rule that ran, its windows, bytes regex-scanned and regex time, slowest first.
    pub fn profile(&self, data: &[u8]) -> Profile {
        let t = std::time::Instant::now();
        let mut keyword_hits = 0u64;
        let mut counts: HashMap<usize, u64> = HashMap::new();
        if let Some(ac) = &self.ac {
            for m in ac.find_iter(data) {
                keyword_hits += 1;
                *counts.entry(m.pattern().as_usize()).or_default() += 1;
            }
        }
        let keyword_pass = t.elapsed();
        let mut top_keywords: Vec<(String, u64)> = counts
            .into_iter()
            .map(|(k, n)| (self.keywords.get(k).cloned().unwrap_or_default(), n))
            .collect();
        top_keywords.sort_by_key(|k| std::cmp::Reverse(k.1));
        top_keywords.truncate(20);
        let t = std::time::Instant::now();
        let windows = self.windows(data, &|_| true);
        let window_pass = t.elapsed();
        let mut per: HashMap<u32, RuleProfile> = HashMap::new();
        for &(r, ws, we) in &windows {
            let Some(rule) = self.rules.get(r as usize) else {
                continue;
            };
            let Some(re) = rule.regex() else { continue };
            let t = std::time::Instant::now();
            let n = re.find_iter(data.get(ws..we).unwrap_or_default()).count();
            let e = per.entry(r).or_insert_with(|| RuleProfile {
                rule_id: rule.id.clone(),
                ..Default::default()
            });
            e.regex_time += t.elapsed();
            e.windows += 1;
            e.bytes += (we - ws) as u64;
            e.matches += n as u64;
        }
        let mut rules: Vec<RuleProfile> = per.into_values().collect();
        rules.sort_by_key(|r| std::cmp::Reverse(r.regex_time));
        Profile {
            keyword_hits,
            keyword_pass,
            top_keywords,
            window_pass,
            rules,
        }
    }

    /// One secret, one finding: where the secrets of hits of different rules overlap, keep the
    /// most specific rule's hit (higher confidence, then checksum-validated, then the longer
    /// keyword found in the match: `openai.api-key` with `T3BlbkFJ` over `moonshot.api-key`
    /// with `sk-`, any provider rule over `generic.*`).
    fn keep_most_specific(&self, hits: &mut Vec<Hit>) {
        /// Overlapping hits compared per hit (bounds the cost on pathological inputs).
        const MAX_OVERLAPS: usize = 16;
        let rank = |h: &Hit| {
            let Some(r) = self.rules.get(h.rule as usize) else {
                return (Confidence::Low, false, 0usize);
            };
            let lower = h.anchor.to_ascii_lowercase();
            let anchor = r
                .keywords
                .iter()
                .filter(|k| memmem::find(&lower, k.as_bytes()).is_some())
                .map(String::len)
                .max()
                .unwrap_or(0);
            (r.confidence, h.validated, anchor)
        };
        let mut drop = vec![false; hits.len()];
        for i in 0..hits.len() {
            for j in (i + 1..hits.len()).take(MAX_OVERLAPS) {
                let (a, b) = (&hits[i], &hits[j]);
                if b.offset >= a.end {
                    break;
                }
                if a.rule == b.rule || drop[i] || drop[j] {
                    continue;
                }
                // Ties keep the rule loaded first.
                let loser = if rank(b) > rank(a) || (rank(b) == rank(a) && b.rule < a.rule) {
                    i
                } else {
                    j
                };
                drop[loser] = true;
            }
        }
        let mut k = 0;
        hits.retain(|_| {
            k += 1;
            !drop[k - 1]
        });
    }

    /// Apply every filter to one regex match; push it to `hits` or count it as suppressed.
    #[allow(clippy::too_many_arguments)]
    fn consider(
        &self,
        r: u32,
        rule: &Rule,
        data: &[u8],
        base: usize,
        caps: &Captures<'_>,
        loc: &Location,
        hits: &mut Vec<Hit>,
        suppressed: &mut u64,
    ) {
        let Some(whole) = caps.get(0) else { return };
        let secret_m = match rule.secret_group {
            SecretGroup::Index(i) => caps.get(i),
            SecretGroup::NamedOrFirst => {
                caps.name("secret").filter(|m| !m.is_empty()).or_else(|| {
                    (1..caps.len())
                        .find_map(|i| caps.get(i).filter(|m| !m.is_empty()))
                        .or(Some(whole))
                })
            }
            SecretGroup::FirstNonEmpty => (1..caps.len())
                .find_map(|i| caps.get(i).filter(|m| !m.is_empty()))
                .or(Some(whole)),
        };
        let Some(sm) = secret_m.filter(|m| !m.is_empty()) else {
            return;
        };
        let secret = sm.as_bytes();
        if let Some(min) = rule.entropy {
            if shannon_entropy(secret) < min {
                return;
            }
        }
        let not_a_secret = match rule.confidence {
            Confidence::Low => is_placeholder(secret),
            Confidence::Medium => is_placeholder_value(secret),
            Confidence::High => {
                is_strong_placeholder(secret)
                    || shape::is_code_identifier(secret)
                    || shape::has_format_field(secret)
            }
        };
        if not_a_secret {
            return;
        }
        let abs_start = base + sm.start();
        let abs_end = base + sm.end();
        let whole_start = base + whole.start();
        let whole_end = base + whole.end();
        if shape::inside_base64_blob(data, abs_start, abs_end) {
            return;
        }
        let mut grade = Grade {
            severity: rule.severity,
            validated: false,
            detail: None,
        };
        if !grade.apply(rule, secret, caps) {
            return;
        }
        let Grade {
            mut severity,
            validated,
            detail,
        } = grade;

        let mut companion = None;
        if let Some(pair) = &rule.pair {
            let lo = whole_start.saturating_sub(pair.window);
            let hi = (whole_end + pair.window).min(data.len());
            if let Some(region) = data.get(lo..hi) {
                for c in pair.regex.captures_iter(region) {
                    let Some(cm) = c.name("secret").or_else(|| c.get(1)).or_else(|| c.get(0))
                    else {
                        continue;
                    };
                    let (cs, ce) = (lo + cm.start(), lo + cm.end());
                    if cm.is_empty() || (cs < whole_end && ce > whole_start) {
                        continue;
                    }
                    if is_strong_placeholder(cm.as_bytes()) {
                        continue;
                    }
                    companion = Some(cs);
                    break;
                }
            }
            match companion {
                None if pair.required => return,
                Some(_) if severity != Severity::Info => {
                    severity = match severity {
                        Severity::Info => Severity::Low,
                        Severity::Low => Severity::Medium,
                        Severity::Medium => Severity::High,
                        Severity::High | Severity::Critical => Severity::Critical,
                    }
                }
                _ => {}
            }
        }

        let line = line_span(data, whole_start, whole_end);
        let cand = Candidate {
            secret,
            whole: whole.as_bytes(),
            line,
            path: &loc.path,
            commit: loc.commit.as_ref().map(|c| c.id.as_str()),
        };
        if has_inline_marker(line, &self.markers)
            || crate::samples::find(secret).is_some()
            || rule.allowlists.iter().any(|a| a.allows(&rule.id, &cand))
            || self.global_allow.iter().any(|a| a.allows(&rule.id, &cand))
            || self.allow_secrets.iter().any(|a| a.is_match(secret))
        {
            *suppressed += 1;
            return;
        }
        hits.push(Hit {
            offset: abs_start,
            end: abs_end,
            rule: r,
            secret: String::from_utf8_lossy(secret).into_owned(),
            severity,
            validated,
            detail,
            companion,
            anchor: whole.as_bytes().to_vec(),
        });
    }
}

/// Severity, validation and detail of one match as its checks decide them.
struct Grade {
    severity: Severity,
    validated: bool,
    detail: Option<String>,
}

impl Grade {
    /// Run the rule's validator, the host check (connection URLs) and, for generic rules, the
    /// evidence check. Returns false when the match is not a secret at all.
    fn apply(&mut self, rule: &Rule, secret: &[u8], caps: &Captures<'_>) -> bool {
        if let Some(v) = rule.validator {
            match v.check(secret) {
                Verdict::Valid => self.validated = true,
                Verdict::Malformed => return false,
                Verdict::BadChecksum => self.demote(format!(
                    "{} checksum does not match: not a live token (test value or corrupted)",
                    v.name()
                )),
                Verdict::Expired => {
                    self.demote("expired: its `exp` claim is in the past, it grants nothing now")
                }
            }
        }
        if let Some(host) = caps.name("host") {
            match shape::host_kind(host.as_bytes()) {
                HostKind::Reserved => return false,
                HostKind::Loopback => {
                    self.demote("credentials for a service on this machine (development setup)")
                }
                HostKind::Other => {}
            }
        }
        if rule.confidence == Confidence::Low && self.severity > Severity::Info {
            if let Some(why) = shape::weak_evidence(secret) {
                self.demote(format!(
                    "low-confidence generic match ({why}): reported, below the default threshold"
                ));
            }
        }
        true
    }

    fn demote(&mut self, why: impl Into<String>) {
        self.severity = Severity::Info;
        if self.detail.is_none() {
            self.detail = Some(why.into());
        }
    }
}

/// The lines holding `[start, end)`, each side bounded to `MAX_LINE_CONTEXT` bytes.
fn line_span(data: &[u8], start: usize, end: usize) -> &[u8] {
    let lo_bound = start.saturating_sub(MAX_LINE_CONTEXT);
    let lo = data
        .get(lo_bound..start)
        .and_then(|b| memrchr(b'\n', b))
        .map_or(lo_bound, |i| lo_bound + i + 1);
    let hi_bound = (end + MAX_LINE_CONTEXT).min(data.len());
    let hi = data
        .get(end..hi_bound)
        .and_then(|b| memchr(b'\n', b))
        .map_or(hi_bound, |i| end + i);
    data.get(lo..hi).unwrap_or_default()
}

/// The window examined around a keyword hit at `[s, e)`: from the start of the previous line
/// (at most `WINDOW_BACK` before), to `WINDOW_FORWARD` after the hit extended to a line end.
/// Extend the rule's current window with `(r, ws, we)` when they touch, else start a new one.
fn merge_window(
    slot: &mut usize,
    windows: &mut Vec<(u32, usize, usize)>,
    (r, ws, we): (u32, usize, usize),
) {
    match windows.get_mut(*slot) {
        Some(w) if w.2 >= ws => w.2 = w.2.max(we),
        _ => {
            *slot = windows.len();
            windows.push((r, ws, we));
        }
    }
}

fn window_around(data: &[u8], s: usize, e: usize) -> (usize, usize) {
    let lo_bound = s.saturating_sub(WINDOW_BACK);
    let before = data.get(lo_bound..s).unwrap_or_default();
    let start = match memrchr(b'\n', before) {
        Some(i) => before
            .get(..i)
            .and_then(|b| memrchr(b'\n', b))
            .map_or(lo_bound, |j| lo_bound + j + 1),
        None => lo_bound,
    };
    let fwd = (e + WINDOW_FORWARD).min(data.len());
    let slack_end = (fwd + WINDOW_LINE_SLACK).min(data.len());
    let end = data
        .get(fwd..slack_end)
        .and_then(|b| memchr(b'\n', b))
        .map_or(slack_end, |i| fwd + i);
    (start, end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_starts_at_previous_line_and_ends_at_a_line_end() {
        let data = b"l1\nl2\nl3 key here\nl4\n";
        let s = 9; // "key"
        let (ws, we) = window_around(data, s, s + 3);
        assert_eq!(&data[ws..ws + 2], b"l2");
        assert_eq!(we, data.len());
        // At the blob start there is nothing before.
        assert_eq!(window_around(b"key", 0, 3), (0, 3));
    }

    #[test]
    fn window_is_bounded_on_long_lines() {
        let data = vec![b'a'; 100_000];
        let (ws, we) = window_around(&data, 50_000, 50_003);
        assert_eq!(ws, 50_000 - WINDOW_BACK);
        assert_eq!(we, 50_003 + WINDOW_FORWARD + WINDOW_LINE_SLACK);
        // With a newline in the slack the window stops there.
        let mut data = data;
        data[50_003 + WINDOW_FORWARD + 10] = b'\n';
        let (_, we) = window_around(&data, 50_000, 50_003);
        assert_eq!(we, 50_003 + WINDOW_FORWARD + 10);
    }

    #[test]
    fn line_span_covers_every_line_of_the_match() {
        let data = b"a\nb MATCH\nSTILL c\nd";
        let start = 4;
        let end = 15;
        assert_eq!(line_span(data, start, end), b"b MATCH\nSTILL c");
        assert_eq!(line_span(b"x", 0, 1), b"x");
    }
}

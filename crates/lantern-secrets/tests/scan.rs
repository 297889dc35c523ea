//! Engine behaviour on the core rules: locations, inline suppression, allowlists, entropy,
//! validators, companions, window edges, invalid UTF-8, large blobs, overlapping keywords.

#![allow(clippy::unwrap_used)]

use lantern_core::{CommitInfo, Location, Severity};
use lantern_secrets::{RuleSet, ScanOutput, Scanner};
use std::sync::OnceLock;

const CORE: &str = include_str!("../rules/core.toml");
const GHP: &str = "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";

fn core_set() -> RuleSet {
    let mut set = RuleSet::new();
    set.add_rule_file_text(CORE, "rules/core.toml", false)
        .unwrap();
    set
}

fn core() -> &'static Scanner {
    static S: OnceLock<Scanner> = OnceLock::new();
    S.get_or_init(|| Scanner::new(core_set(), &[]).unwrap())
}

fn scan(data: &[u8]) -> ScanOutput {
    core().scan(data, &Location::path("src/app.py"))
}

#[test]
fn line_column_and_offset_of_the_secret() {
    let text = format!("import os\n\n  TOKEN = \"{GHP}\"\nx = 1\n  other = '{GHP}'\n");
    let out = scan(text.as_bytes());
    assert_eq!(out.findings.len(), 2, "{:?}", out.findings);
    let f = &out.findings[0];
    assert_eq!(f.rule_id, "github.pat-classic");
    assert_eq!(f.severity, Severity::Critical);
    assert!(f.validated);
    assert_eq!(f.secret.as_deref(), Some(GHP));
    let l = &f.locations[0];
    assert_eq!((l.line, l.column), (Some(3), Some(12)));
    assert_eq!(l.offset, Some(text.find(GHP).unwrap() as u64));
    assert_eq!(l.path, "src/app.py");
    let l2 = &out.findings[1].locations[0];
    assert_eq!((l2.line, l2.column), (Some(5), Some(12)));
}

#[test]
fn location_keeps_cell_and_commit() {
    let mut loc = Location::path("nb.ipynb");
    loc.cell = Some(4);
    loc.cell_part = Some("output".into());
    loc.commit = Some(CommitInfo {
        id: "abc123".into(),
        author: "A <a@x>".into(),
        date: "2024-01-01T00:00:00Z".into(),
    });
    let out = core().scan(GHP.as_bytes(), &loc);
    let l = &out.findings[0].locations[0];
    assert_eq!(l.cell, Some(4));
    assert_eq!(l.commit.as_ref().unwrap().id, "abc123");
    assert_eq!((l.line, l.column, l.offset), (Some(1), Some(1), Some(0)));
}

#[test]
fn inline_markers_suppress_and_count() {
    for marker in [
        "# lantern:allow",
        "// gitleaks:allow",
        "# pragma: allowlist secret",
    ] {
        let text = format!("a = 1\nt = \"{GHP}\"  {marker}\n");
        let out = scan(text.as_bytes());
        assert!(out.findings.is_empty(), "{marker}: {:?}", out.findings);
        assert_eq!(out.suppressed, 1, "{marker}");
    }
    // The marker only covers its own line.
    let text = format!("# lantern:allow\nt = \"{GHP}\"\n");
    assert_eq!(scan(text.as_bytes()).findings.len(), 1);
}

#[test]
fn allow_secrets_regexes() {
    let s = Scanner::new(core_set(), &["^ghp_Ky9Pf".to_string()]).unwrap();
    let out = s.scan(GHP.as_bytes(), &Location::path("a"));
    assert!(out.findings.is_empty());
    assert_eq!(out.suppressed, 1);
    assert!(Scanner::new(core_set(), &["(".to_string()]).is_err());
}

#[test]
fn disabled_rules_do_not_run() {
    let mut set = core_set();
    set.disable(&["github.*".to_string()]);
    let s = Scanner::new(set, &[]).unwrap();
    assert!(s
        .scan(GHP.as_bytes(), &Location::path("a"))
        .findings
        .is_empty());
}

#[test]
fn entropy_floor_on_generic_rules() {
    let low = scan(b"db_password = \"aaaabbbbaaaabbbb\"\n");
    assert!(low.findings.is_empty(), "{:?}", low.findings);
    let high = scan(b"db_password = \"Zx9kQ2mW7pL4vR8t\"\n");
    assert_eq!(high.findings.len(), 1);
    let f = &high.findings[0];
    assert_eq!(f.rule_id, "generic.password");
    assert_eq!(f.severity, Severity::Medium);
    assert_eq!(f.secret.as_deref(), Some("Zx9kQ2mW7pL4vR8t"));
    assert_eq!(f.properties.get("confidence").unwrap(), "low");
}

#[test]
fn bad_checksum_is_demoted_to_info() {
    let mut bad = GHP.to_string();
    bad.replace_range(8..9, "Z");
    let out = scan(bad.as_bytes());
    assert_eq!(out.findings.len(), 1);
    let f = &out.findings[0];
    assert_eq!(f.severity, Severity::Info);
    assert!(!f.validated);
    assert!(f
        .detail
        .as_deref()
        .unwrap()
        .contains("checksum does not match"));
}

#[test]
fn aws_pair_raises_severity_and_names_companion_line() {
    let alone = scan(b"AWS_ACCESS_KEY_ID=AKIAQ6KBNXJBTFQXKWOV\n");
    let f = alone
        .findings
        .iter()
        .find(|f| f.rule_id == "aws.access-key-id")
        .unwrap();
    assert_eq!(f.severity, Severity::High);
    assert!(f.validated);
    let both = scan(
        b"[default]\naws_access_key_id = AKIAQ6KBNXJBTFQXKWOV\naws_secret_access_key = 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\n",
    );
    let f = both
        .findings
        .iter()
        .find(|f| f.rule_id == "aws.access-key-id")
        .unwrap();
    assert_eq!(f.severity, Severity::Critical);
    assert_eq!(f.locations[0].line, Some(2));
    assert!(
        f.detail.as_deref().unwrap().contains("line 3"),
        "{:?}",
        f.detail
    );
    // The secret key itself is its own finding, and generic.secret is shadowed by it.
    let ids: Vec<&str> = both.findings.iter().map(|f| f.rule_id.as_str()).collect();
    assert_eq!(ids, vec!["aws.access-key-id", "aws.secret-access-key"]);
}

#[test]
fn placeholders_are_dropped() {
    assert!(scan(b"key AKIAIOSFODNN7EXAMPLE\n").findings.is_empty());
    assert!(scan(b"DATABASE_URL=postgres://app:${DB_PASSWORD}@db/app\n")
        .findings
        .is_empty());
    assert!(scan(b"api_key = \"<YOUR_API_KEY_GOES_HERE>\"\n")
        .findings
        .is_empty());
    let real = scan(b"DATABASE_URL=postgres://app:S3cr3tPassw0rd9@db:5432/app\n");
    assert_eq!(real.findings[0].secret.as_deref(), Some("S3cr3tPassw0rd9"));
}

#[test]
fn blob_start_and_end_without_newlines() {
    let out = scan(GHP.as_bytes());
    assert_eq!(out.findings.len(), 1);
    let text = format!("x = 1\ny = 2\nz={GHP}");
    let out = scan(text.as_bytes());
    let l = &out.findings[0].locations[0];
    assert_eq!((l.line, l.column), (Some(3), Some(3)));
}

#[test]
fn long_minified_line_and_merged_windows_report_each_secret_once() {
    // One 40 KiB line with tokens every ~6 KiB: windows overlap and merge; each token is
    // reported once, whole, with its byte column.
    let mut line = String::new();
    let mut cols = Vec::new();
    for i in 0..6 {
        line.push_str(&";var a=1".repeat(750));
        cols.push(line.len() + 3 + 1);
        line.push_str(&format!(";t={GHP};n{i}=0"));
    }
    let out = scan(line.as_bytes());
    let f = out
        .findings
        .iter()
        .find(|f| f.rule_id == "github.pat-classic")
        .unwrap();
    assert_eq!(f.secret.as_deref(), Some(GHP));
    let got: Vec<u32> = out
        .findings
        .iter()
        .filter(|f| f.rule_id == "github.pat-classic")
        .map(|f| f.locations[0].column.unwrap())
        .collect();
    let want: Vec<u32> = cols.iter().map(|&c| c as u32).collect();
    assert_eq!(got, want);
}

#[test]
fn secret_far_from_keyword_window_edge() {
    // A 6 KiB PEM body: the match runs from the BEGIN keyword across most of the window.
    let body: String = (0..96)
        .map(|i| {
            format!(
                "{}\n",
                &"575YX8XM5mSLFy5UBIHEYeD7p4Zdl/AK6j0KgodkDINzNlxICAbaG8wy1JZirLnq"[..(64 - i % 3)]
            )
        })
        .collect();
    let pem = format!("-----BEGIN RSA PRIVATE KEY-----\n{body}-----END RSA PRIVATE KEY-----\n");
    assert!(pem.len() > 6000);
    let text = format!("{}\n{pem}", "filler line\n".repeat(1000));
    let out = scan(text.as_bytes());
    let f = out
        .findings
        .iter()
        .find(|f| f.rule_id == "private-key.rsa")
        .unwrap();
    assert_eq!(f.secret.as_deref().map(str::len), Some(pem.len() - 1));
    assert_eq!(f.locations[0].line, Some(1002));
}

#[test]
fn invalid_utf8_around_secrets() {
    let mut data = vec![0xff, 0xfe, b'\n', 0xc3, b' '];
    data.extend_from_slice(GHP.as_bytes());
    data.extend_from_slice(&[b' ', 0x80, 0x81, b'\n']);
    let out = scan(&data);
    assert_eq!(out.findings.len(), 1);
    let l = &out.findings[0].locations[0];
    assert_eq!((l.line, l.column, l.offset), (Some(2), Some(3), Some(5)));
}

#[test]
fn fifty_megabytes_without_keywords() {
    let chunk = b"lorem ipsum dolor sit amet, consectetur adipiscing elit 0123456789\n";
    let mut data = Vec::with_capacity(50 << 20);
    while data.len() < 50 << 20 {
        data.extend_from_slice(chunk);
    }
    let lines = data.len() / chunk.len();
    // One scan (debug builds are slow): nothing in the 50 MiB of text, the token at the end.
    data.extend_from_slice(GHP.as_bytes());
    let out = scan(&data);
    assert_eq!(out.findings.len(), 1, "{:?}", out.findings);
    assert_eq!(out.findings[0].locations[0].line, Some(lines as u32 + 1));
}

#[test]
fn overlapping_keywords_each_trigger_their_rule() {
    let mut set = RuleSet::new();
    set.add_rule_file_text(
        r#"
[[rules]]
id = "t.long"
description = "long"
regex = '''abc_(x[0-9]{6})'''
keywords = ["abc_x"]
[[rules]]
id = "t.short"
description = "short"
regex = '''(c_)x[0-9]{6}'''
keywords = ["c_x"]
"#,
        "t.toml",
        true,
    )
    .unwrap();
    let s = Scanner::new(set, &[]).unwrap();
    let out = s.scan(b"abc_x123456", &Location::path("a"));
    let mut got: Vec<(&str, &str)> = out
        .findings
        .iter()
        .map(|f| (f.rule_id.as_str(), f.secret.as_deref().unwrap()))
        .collect();
    got.sort();
    // The secrets do not overlap (one secret, one finding applies only to overlaps).
    assert_eq!(got, vec![("t.long", "x123456"), ("t.short", "c_")]);
}

#[test]
fn lantern_toml_rules_are_checked() {
    let cfg = lantern_core::Config::parse(
        r#"
[[rules]]
id = "acme.token"
description = "Acme token"
regex = '''\b(acme_[a-z0-9]{32})\b'''
keywords = ["acme_"]
examples = ["ACME=acme_0123456789abcdef0123456789abcdef"]
"#,
        std::path::Path::new("lantern.toml"),
    )
    .unwrap();
    let mut set = core_set();
    set.add_toml_rules(&cfg.rules, "lantern.toml").unwrap();
    let s = Scanner::new(set, &[]).unwrap();
    let out = s.scan(
        b"k: acme_0123456789abcdef0123456789abcdef\n",
        &Location::path("a"),
    );
    assert_eq!(out.findings[0].rule_id, "acme.token");

    let bad: toml::Value = toml::from_str(
        "id = \"acme.bad\"\ndescription = \"d\"\nregex = 'acme_[a-z]{4}'\nkeywords = [\"acme_\"]\nexamples = [\"nope\"]\n",
    )
    .unwrap();
    let e = core_set()
        .add_toml_rules(&[bad], "lantern.toml")
        .unwrap_err()
        .to_string();
    assert!(e.contains("lantern.toml") && e.contains("acme.bad"), "{e}");
}

#[test]
fn scanner_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Scanner>();
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn scan_never_panics_and_locations_are_consistent(
            prefix in proptest::collection::vec(any::<u8>(), 0..512),
            plant in any::<bool>(),
            suffix in proptest::collection::vec(any::<u8>(), 0..512),
        ) {
            let mut data = prefix.clone();
            if plant {
                data.push(b'\n');
                data.extend_from_slice(GHP.as_bytes());
                data.push(b'\n');
            }
            data.extend_from_slice(&suffix);
            let out = scan(&data);
            for f in &out.findings {
                let l = &f.locations[0];
                let off = l.offset.unwrap() as usize;
                prop_assert!(off < data.len());
                let nl = data[..off].iter().filter(|&&b| b == b'\n').count();
                prop_assert_eq!(l.line.unwrap() as usize, nl + 1);
                let ls = data[..off].iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
                prop_assert_eq!(l.column.unwrap() as usize, off - ls + 1);
            }
            if plant {
                prop_assert!(out.findings.iter().any(|f| f.secret.as_deref() == Some(GHP)));
            }
        }

        /// Windows are an optimisation only: every planted token is found exactly once, at its
        /// offset, whatever the filler between tokens (long lines, many lines, none).
        #[test]
        fn windowed_scan_finds_every_planted_token_once(
            gaps in proptest::collection::vec((0usize..20_000, any::<bool>()), 1..8),
        ) {
            let mut data = Vec::new();
            let mut want = Vec::new();
            for (gap, newlines) in gaps {
                let filler: &[u8] = if newlines { b"abc def;\n" } else { b"abc def; " };
                let target = data.len() + gap;
                while data.len() < target {
                    data.extend_from_slice(filler);
                }
                data.push(b' ');
                want.push(data.len());
                data.extend_from_slice(GHP.as_bytes());
                data.push(b' ');
            }
            let got: Vec<usize> = scan(&data)
                .findings
                .iter()
                .filter(|f| f.rule_id == "github.pat-classic")
                .map(|f| f.locations[0].offset.unwrap() as usize)
                .collect();
            prop_assert_eq!(got, want);
        }

        #[test]
        fn scan_of_keyword_soup_never_panics(
            parts in proptest::collection::vec(
                prop_oneof![
                    Just("ghp_".to_string()), Just("-----BEGIN RSA PRIVATE KEY-----".to_string()),
                    Just("password=".to_string()), Just("postgres://".to_string()), Just("eyJ".to_string()),
                    Just("AKIA".to_string()), Just("\n".to_string()), Just("secret: ".to_string()),
                    "[A-Za-z0-9+/=_.-]{0,50}",
                ],
                0..64,
            )
        ) {
            let data = parts.concat();
            let out = scan(data.as_bytes());
            for f in &out.findings {
                prop_assert!(f.locations[0].offset.unwrap() as usize <= data.len());
            }
        }
    }
}

fn builtin() -> &'static Scanner {
    static S: OnceLock<Scanner> = OnceLock::new();
    S.get_or_init(|| Scanner::new(RuleSet::builtin().unwrap(), &[]).unwrap())
}

fn found(out: &ScanOutput) -> Vec<(String, Severity)> {
    out.findings
        .iter()
        .map(|f| (f.rule_id.clone(), f.severity))
        .collect()
}

/// Generic matches with weak evidence (a phrase of words, a digest, no digit) are reported at
/// info, below the default `fail_on = "low"`; a random mixed value stays at medium.
#[test]
fn weak_generic_evidence_is_info_strong_stays_medium() {
    for (text, why) in [
        (
            "certificate_secret = \"certificate-subject-never-visible\"\n",
            "phrase",
        ),
        (
            "api_key='d5345c0ecc68ae6295c69f91926b2bd379e25481a40c34b5884d157a9f65d8fa'\n",
            "hash",
        ),
    ] {
        let out = scan(text.as_bytes());
        assert_eq!(out.findings.len(), 1, "{text}: {:?}", out.findings);
        let f = &out.findings[0];
        assert_eq!(f.severity, Severity::Info, "{text}");
        assert!(f.detail.as_deref().unwrap().contains(why), "{:?}", f.detail);
    }
    let out = scan(b"ATLAS_API_KEY = \"7xDPkYXSYDc1_ErdTPIcoAR9RNd8YDlkS3nVNXcVoIMZ6\"\n");
    assert_eq!(
        found(&out),
        vec![("generic.api-key".into(), Severity::Medium)]
    );
}

/// Identifiers, references, env lookups, templates, self-describing phrases and sequences are
/// never secrets, whatever the rule.
#[test]
fn code_and_placeholders_are_not_secrets() {
    for text in [
        "_type: SecretType = SecretType.TOKEN\n",
        "api_key: os.environ/ANTHROPIC_API_KEY\n",
        "client = Anthropic(api_key=\"my-anthropic-api-key\")\n",
        "\"api_key\": \"sk-9876543210abcdef\",\n",
        "url = f\"postgresql://{user}:{password}@{host}:{port}/db\"\n",
        "passwordResetRequired:o?.password_reset_required===!0\n",
        "MONGO = \"mongodb+srv://{atlas_user}:{atlas_password}@cluster0.mongodb.net/\"\n",
    ] {
        let out = builtin().scan(text.as_bytes(), &Location::path("src/app.py"));
        assert!(out.findings.is_empty(), "{text}: {:?}", out.findings);
    }
    let out = builtin().scan(
        b"        (\"mistral3\", \"Mistral3ForConditionalGeneration\"),\n    RoboflowProviderConfig,\n    RoboflowProviderSpec,\n",
        &Location::path("modeling_auto.py"),
    );
    assert!(out.findings.is_empty(), "{:?}", out.findings);
}

/// Credentials in URLs for reserved example hosts are dropped; for this machine they are
/// development credentials, reported at info.
#[test]
fn url_hosts_decide_credentials() {
    let out = builtin().scan(
        b"base_url = \"https://user:Zq3Lr8VbN1xY@gw.example/api\"\nDB = \"postgres://app:S3cr3tPassw0rd9@db.example.com:5432/app\"\n",
        &Location::path("a.py"),
    );
    assert!(out.findings.is_empty(), "{:?}", out.findings);
    let out = builtin().scan(
        b"MONGO = \"mongodb://trainer:0UabbRdsXooYbY9@localhost:27017/db\"\n",
        &Location::path("a.py"),
    );
    assert!(!out.findings.is_empty());
    for f in &out.findings {
        assert_eq!(f.severity, Severity::Info, "{f:?}");
        assert!(
            f.detail.as_deref().unwrap().contains("this machine"),
            "{f:?}"
        );
    }
    let out = builtin().scan(
        b"MONGO = \"mongodb://trainer:0UabbRdsXooYbY9@mongo.prod.acme-corp.io:27017/db\"\n",
        &Location::path("a.py"),
    );
    assert!(
        out.findings.iter().any(|f| f.severity >= Severity::High),
        "{:?}",
        out.findings
    );
}

/// A token-shaped run inside a base64 `data:` URI (a font, an image) is not a secret.
#[test]
fn tokens_inside_data_uris_are_not_secrets() {
    let body = "AQEyhmfxK4TYGmHdRVbTjzfSKHNp7NqV2bC3xLm9Pq4Rs6Tu8Vw0XyZa1Bc2De3Fg4Hi5Jk6Lm7No8Pq9Rs0Tu1Vw2Xy3Za4Bc5De6Fg7Hi8Jk9Lm0No1Pq2Rs3Tu4Vw5Xy6Za7Bc8De9Fg0Hi";
    let direct = format!("ADYEN_API_KEY = \"{body}\"\n");
    let out = builtin().scan(direct.as_bytes(), &Location::path("a.py"));
    assert!(
        out.findings.iter().any(|f| f.rule_id == "adyen.api-key"),
        "{:?}",
        out.findings
    );
    let svg = format!(
        "<style>@font-face{{src:url(data:font/woff2;base64,d09GMgABAAAAA+{body}AAAA) format('woff2')}}</style>\n"
    );
    let out = builtin().scan(svg.as_bytes(), &Location::path("logo.svg"));
    assert!(out.findings.is_empty(), "{:?}", out.findings);
}

/// An expired JWT is demoted to info with a reason; a live one keeps its severity.
#[test]
fn expired_jwt_is_info() {
    let past = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzZXNzaW9uX2lkIjoiNzM1MzRlNDgiLCJleHAiOjE3NDAyNjY0NjQuMTd9.gkiHROHd6xvHJ5IK83zGZQqIezGFCMsKbmGUer3QdrM";
    let future = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJzdmMtZGVwbG95IiwiZXhwIjo0MTAyNDQ0ODAwfQ.gkiHROHd6xvHJ5IK83zGZQqIezGFCMsKbmGUer3QdrM";
    let out = scan(format!("{{\"jwt\":\"{past}\"}}\n").as_bytes());
    assert_eq!(found(&out), vec![("jwt.token".into(), Severity::Info)]);
    assert!(out.findings[0]
        .detail
        .as_deref()
        .unwrap()
        .contains("expired"));
    let out = scan(format!("{{\"jwt\":\"{future}\"}}\n").as_bytes());
    assert_eq!(found(&out), vec![("jwt.token".into(), Severity::Medium)]);
}

/// Published sample credentials (rules/allow/public-samples.toml) are suppressed and counted.
#[test]
fn public_samples_are_suppressed() {
    let out = builtin().scan(
        b"AZURE_STORAGE=\"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;\"\nGOOGLE_CLIENT_SECRET = \"d-FL95Q19q7MQmFpd7hHD0Ty\"\n",
        &Location::path("settings.py"),
    );
    assert!(out.findings.is_empty(), "{:?}", out.findings);
    assert!(out.suppressed >= 2, "{}", out.suppressed);
}

/// One secret matched by several rules is one finding naming the most specific rule: a legacy
/// OpenAI key (with `T3BlbkFJ`) is not also a Moonshot key, and a provider rule wins over the
/// generic one.
#[test]
fn one_secret_one_finding_most_specific_rule() {
    let key = "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";
    let out = builtin().scan(
        format!("OPENAI_API_KEY=\"{key}\"\n").as_bytes(),
        &Location::path(".env"),
    );
    let ids: Vec<_> = out.findings.iter().map(|f| f.rule_id.as_str()).collect();
    assert_eq!(ids, vec!["openai.api-key"], "{:?}", out.findings);
}

/// OpenAI keys are named by kind (project, service account, admin), not only as legacy keys;
/// a Gemini key assigned to a Gemini variable is named as one, not as a generic Google key.
#[test]
fn ai_provider_kinds_are_named() {
    for (text, id) in [
        ("OPENAI_API_KEY=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\n", "openai.project-key"),
        ("OPENAI_ADMIN_KEY=sk-admin-Vht2L-Duiw84PjcM8es7ukxhd_4qow_ZjkcNObNoc7RqmfRrnKc-e5zyT_T3BlbkFJK8pdSV4DI9VLnbPLhRJU\n", "openai.admin-key"),
        ("GEMINI_API_KEY=AIzaSyQdkmoAhZHHMRCozevznypajS5acPNUZ44\n", "gemini.api-key"),
    ] {
        let out = builtin().scan(text.as_bytes(), &Location::path(".env"));
        let ids: Vec<_> = out.findings.iter().map(|f| f.rule_id.as_str()).collect();
        assert_eq!(ids, vec![id], "{text}");
    }
}

/// Random-looking text of `n` characters from `alphabet` (xorshift, fixed seed per call).
fn random_from(seed: u64, n: usize, alphabet: &[u8]) -> String {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            alphabet[(x % alphabet.len() as u64) as usize] as char
        })
        .collect()
}

/// AI providers first: a key in each provider's documented format, assigned to the variable its
/// SDK reads, is reported by that provider's rule at high or critical severity, and only by it.
#[test]
fn ai_provider_keys_in_documented_formats() {
    const ALNUM: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    const LETTERS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    const HEX: &[u8] = b"0123456789abcdef";
    const URLSAFE: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_";
    let r = |seed: u64, n: usize, a: &[u8]| random_from(seed, n, a);
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "HF_TOKEN",
            format!("hf_{}", r(1, 34, LETTERS)),
            "huggingface.access-token",
        ),
        (
            "REPLICATE_API_TOKEN",
            format!("r8_{}", r(2, 37, ALNUM)),
            "replicate.api-token",
        ),
        (
            "GROQ_API_KEY",
            format!("gsk_{}", r(3, 52, ALNUM)),
            "groq.api-key",
        ),
        (
            "PERPLEXITY_API_KEY",
            format!("pplx-{}", r(4, 48, ALNUM)),
            "perplexity.api-key",
        ),
        (
            "OPENROUTER_API_KEY",
            format!("sk-or-v1-{}", r(5, 64, HEX)),
            "openrouter.api-key",
        ),
        (
            "LANGSMITH_API_KEY",
            format!("lsv2_pt_{}_{}", r(6, 32, HEX), r(7, 10, HEX)),
            "langchain.langsmith-personal-access-token",
        ),
        (
            "LANGFUSE_SECRET_KEY",
            format!(
                "sk-lf-{}-{}-4{}-a{}-{}",
                r(8, 8, HEX),
                r(9, 4, HEX),
                r(10, 3, HEX),
                r(11, 3, HEX),
                r(12, 12, HEX)
            ),
            "langfuse.secret-key",
        ),
        (
            "ANTHROPIC_API_KEY",
            format!("sk-ant-api03-{}AA", r(13, 93, URLSAFE)),
            "anthropic.api-key",
        ),
        (
            "XAI_API_KEY",
            format!("xai-{}", r(14, 80, ALNUM)),
            "xai.api-key",
        ),
        (
            "FIREWORKS_API_KEY",
            format!("fw_{}", r(15, 24, ALNUM)),
            "fireworks.api-key",
        ),
        (
            "TOGETHER_API_KEY",
            format!("tgp_v1_{}", r(16, 43, URLSAFE)),
            "togetherai.api-key",
        ),
        (
            "JINA_API_KEY",
            format!("jina_{}", r(17, 60, ALNUM)),
            "jina.api-key",
        ),
        (
            "VOYAGE_API_KEY",
            format!("pa-{}", r(18, 43, URLSAFE)),
            "voyageai.api-key",
        ),
        (
            "ELEVENLABS_API_KEY",
            format!("sk_{}", r(19, 48, HEX)),
            "elevenlabs.api-key",
        ),
        (
            "NVIDIA_API_KEY",
            format!("nvapi-{}", r(20, 64, URLSAFE)),
            "nvidia.api-key",
        ),
        (
            "DEEPSEEK_API_KEY",
            format!("sk-{}", r(21, 32, HEX)),
            "deepseek.api-key",
        ),
        ("MISTRAL_API_KEY", r(22, 32, ALNUM), "mistral.api-key"),
        ("COHERE_API_KEY", r(23, 40, ALNUM), "cohere.api-token"),
        ("WANDB_API_KEY", r(24, 40, HEX), "wandb.api-key"),
        ("DEEPGRAM_API_KEY", r(25, 40, HEX), "deepgram.api-key"),
        ("ASSEMBLYAI_API_KEY", r(26, 32, HEX), "assemblyai.api-key"),
        ("CLARIFAI_PAT", r(27, 32, HEX), "clarifai.pat"),
        (
            "PINECONE_API_KEY",
            format!("pcsk_{}_{}", r(28, 6, ALNUM), r(29, 63, ALNUM)),
            "pinecone.api-key",
        ),
        ("AZURE_OPENAI_API_KEY", r(30, 32, HEX), "azure.openai-key"),
        (
            "GEMINI_API_KEY",
            format!("AIza{}", r(31, 35, URLSAFE)),
            "gemini.api-key",
        ),
    ];
    let mut failures = Vec::new();
    for (var, key, id) in &cases {
        let text = format!("{var}=\"{key}\"\n");
        let out = builtin().scan(text.as_bytes(), &Location::path(".env"));
        let got: Vec<(&str, Severity)> = out
            .findings
            .iter()
            .map(|f| (f.rule_id.as_str(), f.severity))
            .collect();
        if got.len() != 1 || got[0].0 != *id || got[0].1 < Severity::High {
            failures.push(format!("{text}: expected only {id}, got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A Firebase web config's API key is public by design: one info finding naming Firebase, not
/// a critical Google API key; the same key alone stays a Google API key.
#[test]
fn firebase_web_config_key_is_info() {
    let cfg = "const firebaseConfig = {\n  apiKey: \"AIzaSybZa4Ejn_c2uvRh7QjsuNFBJ5HiXp_GhO7\",\n  authDomain: \"vision-demo-4411.firebaseapp.com\",\n};\n";
    let out = builtin().scan(cfg.as_bytes(), &Location::path("web/src/firebase.js"));
    assert_eq!(
        found(&out),
        vec![("firebase.web-api-key".into(), Severity::Info)]
    );
    let alone = "MAPS_KEY = \"AIzaSybZa4Ejn_c2uvRh7QjsuNFBJ5HiXp_GhO7\"\n";
    let out = builtin().scan(alone.as_bytes(), &Location::path("settings.py"));
    let ids: Vec<_> = out.findings.iter().map(|f| f.rule_id.as_str()).collect();
    assert_eq!(ids, vec!["gcp.api-key"]);
}

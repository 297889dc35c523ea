//! The gitleaks loader on a realistic configuration: rules, secretGroup, entropy, derived
//! keywords, path-only and path-restricted rules, per-rule and global allowlists.

#![allow(clippy::unwrap_used)]

use lantern_core::{Location, Severity};
use lantern_secrets::{RuleSet, Scanner};
use std::path::Path;

fn fixture() -> Scanner {
    let mut set = RuleSet::new();
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gitleaks.toml");
    set.add_gitleaks_file(&p).unwrap();
    assert!(set.notes().iter().any(|n| n.contains("useDefault ignored")));
    Scanner::new(set, &[]).unwrap()
}

fn ids(s: &Scanner, text: &str, path: &str) -> Vec<(String, String)> {
    s.scan(text.as_bytes(), &Location::path(path))
        .findings
        .into_iter()
        .map(|f| (f.rule_id, f.secret.unwrap_or_default()))
        .collect()
}

#[test]
fn loads_every_rule_with_keywords_derived_or_always_run() {
    let mut set = RuleSet::new();
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gitleaks.toml");
    set.add_gitleaks_file(&p).unwrap();
    assert_eq!(set.len(), 8);
    let tkt = set
        .rules()
        .find(|r| r.id == "internal-ticket-token")
        .unwrap();
    assert_eq!(tkt.keywords, vec!["tkt_"]);
    assert!(!tkt.always_run);
    let hex = set.rules().find(|r| r.id == "dotenv-hex-secret").unwrap();
    assert!(hex.always_run);
    assert!(set.notes().iter().any(|n| n.contains("dotenv-hex-secret")));
    let generic = set.rules().find(|r| r.id == "generic-api-key").unwrap();
    assert_eq!(generic.severity, Severity::High);
    assert_eq!(set.allowlists().len(), 1);
}

#[test]
fn rules_fire_with_secret_groups() {
    let s = fixture();
    let f = ids(
        &s,
        "const t = \"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\";\n",
        "a.js",
    );
    assert!(
        f.contains(&(
            "github-pat".into(),
            "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".into()
        )),
        "{f:?}"
    );
    let f = ids(
        &s,
        "SLACK=xoxb-1234567890123-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx\n",
        "a.env",
    );
    assert!(
        f.iter()
            .any(|(r, sec)| r == "slack-bot-token" && sec.starts_with("xoxb-1234567890123")),
        "{f:?}"
    );
    let f = ids(&s, "weather_api_key = \"q8Zr3LmN0pXw7TkV2bYc\"\n", "cfg.py");
    assert!(
        f.contains(&("generic-api-key".into(), "q8Zr3LmN0pXw7TkV2bYc".into())),
        "{f:?}"
    );
}

#[test]
fn per_rule_allowlists_and_stopwords() {
    let s = fixture();
    // [[rules.allowlists]] regexes: the AWS docs key.
    assert!(ids(&s, "key = AKIAIOSFODNN7EXAMPLE\n", "a.py")
        .iter()
        .all(|(r, _)| r != "aws-access-token"));
    // [rules.allowlist] stopWords (case-insensitive).
    let out = s.scan(
        b"auth_token = \"Client9q8Zr3LmN0pXw7TkV\"\n",
        &Location::path("a.py"),
    );
    assert!(
        out.findings.iter().all(|f| f.rule_id != "generic-api-key"),
        "{:?}",
        out.findings
    );
    assert!(out.suppressed >= 1);
    // [rules.allowlist] regexes on the secret: identifiers only.
    assert!(ids(&s, "api_key = settings.weather_api_key_value\n", "a.py").is_empty());
}

#[test]
fn and_condition_needs_every_criterion() {
    let s = fixture();
    let line = "tok := \"tkt_0123456789abcdef0123456789abcdef\" // fixture\n";
    assert!(ids(&s, line, "x_test.go").is_empty());
    assert_eq!(ids(&s, line, "x.go").len(), 1);
    let other = "tok := \"tkt_0123456789abcdef0123456789abcdef\"\n";
    assert_eq!(ids(&s, other, "x_test.go").len(), 1);
}

#[test]
fn global_allowlist_paths_regexes_and_stopwords() {
    let s = fixture();
    let tok = "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";
    assert!(ids(&s, tok, "node_modules/x/index.js").is_empty());
    assert!(ids(&s, tok, "docs/manual.pdf").is_empty());
    assert!(!ids(&s, tok, "src/main.rs").is_empty());
    // Global stopword (a word the placeholder filter does not know).
    let out = s.scan(
        b"t = ghp_NotASecretXQ6Nb3wWD25RQ4F5ZR3qa7y3gm\n",
        &Location::path("a.py"),
    );
    assert!(out.findings.is_empty(), "{:?}", out.findings);
    assert_eq!(out.suppressed, 1);
    // Global regexes apply to the secret.
    let out = s.scan(
        b"password = \"ssn-219-09-9999-x\"\n",
        &Location::path("a.py"),
    );
    assert!(out.findings.is_empty(), "{:?}", out.findings);
}

#[test]
fn path_only_and_path_restricted_rules() {
    let s = fixture();
    let out = s.scan(
        b"\x30\x82\x0a\x00binary",
        &Location::path("certs/client.p12"),
    );
    assert_eq!(out.findings.len(), 1);
    assert_eq!(out.findings[0].rule_id, "pkcs12-file");
    assert!(out.findings[0].secret.is_none());
    let env = "SIGNING=4f2a9c1e8b7d6a5f4e3d2c1b0a99887766554433221100ffeeddccbbaa998877\n";
    assert!(ids(&s, env, "config.yaml")
        .iter()
        .all(|(r, _)| r != "dotenv-hex-secret"));
    let f = ids(&s, env, "prod/.env");
    assert!(
        f.contains(&(
            "dotenv-hex-secret".into(),
            "4f2a9c1e8b7d6a5f4e3d2c1b0a99887766554433221100ffeeddccbbaa998877".into()
        )),
        "{f:?}"
    );
}

#[test]
fn private_key_multiline() {
    let s = fixture();
    let pem = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\nNNEgeyg1+lWIQd9JjbaCIi05fHFWkvQLuR5qREC8tnECJ9InoRJJ5vFQrtK8J1D/\n-----END OPENSSH PRIVATE KEY-----\n";
    let out = s.scan(format!("x\n{pem}").as_bytes(), &Location::path("id"));
    let f = out
        .findings
        .iter()
        .find(|f| f.rule_id == "private-key")
        .unwrap();
    assert_eq!(f.locations[0].line, Some(2));
    assert!(f
        .secret
        .as_deref()
        .unwrap()
        .ends_with("END OPENSSH PRIVATE KEY-----"));
}

#[test]
fn errors_name_the_file_and_rule() {
    let mut set = RuleSet::new();
    let e = set
        .add_gitleaks_text(
            "[[rules]]\nid = \"bad\"\nregex = '''a(b'''\n",
            "my-gitleaks.toml",
        )
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("my-gitleaks.toml") && e.contains("`bad`") && e.contains("invalid regex"),
        "{e}"
    );
    let e = set
        .add_gitleaks_text(
            "[[rules]]\nid = \"g\"\nregex = '''a(b)'''\nsecretGroup = 3\n",
            "f.toml",
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("secretGroup 3"), "{e}");
    let e = set
        .add_gitleaks_text("[[rules]]\nid = \"n\"\n", "f.toml")
        .unwrap_err()
        .to_string();
    assert!(e.contains("`n`") && e.contains("regex"), "{e}");
    let e = set
        .add_gitleaks_text("rules = 3", "f.toml")
        .unwrap_err()
        .to_string();
    assert!(e.contains("f.toml"), "{e}");
}

#[test]
fn gitleaks_ids_must_not_clash_with_bundled() {
    let mut set = RuleSet::new();
    set.add_gitleaks_text("[[rules]]\nid = \"x\"\nregex = 'x_[0-9]{8}'\n", "a.toml")
        .unwrap();
    let e = set
        .add_gitleaks_text("[[rules]]\nid = \"x\"\nregex = 'y_[0-9]{8}'\n", "b.toml")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("duplicate rule id") && e.contains("a.toml"),
        "{e}"
    );
}

//! Interoperability and bad-input tests of `lantern keygen|sign|verify|attest` against the
//! reference implementation, `model_signing` (sigstore/model-transparency) from PyPI.

#![allow(clippy::unwrap_used)]

use assert_cmd::Command;
use std::path::{Path, PathBuf};
use std::process::Output;

fn python() -> String {
    std::env::var("LANTERN_TEST_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// Fails the test with a clear message when model_signing is not importable (checked once).
fn require_model_signing() {
    static CHECKED: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    let r = CHECKED.get_or_init(|| {
        let check = std::process::Command::new(python())
            .args(["-c", "import model_signing, OpenSSL, cryptography"])
            .output()
            .map_err(|e| format!("cannot run {}: {e}", python()))?;
        if check.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&check.stderr).into_owned())
        }
    });
    if let Err(e) = r {
        panic!(
            "model_signing is not importable with {} (install .ci/requirements-sign.txt and set LANTERN_TEST_PYTHON): {e}",
            python()
        );
    }
}

/// Runs Python code with model_signing available.
fn py(code: &str, args: &[&str]) -> Output {
    require_model_signing();
    std::process::Command::new(python())
        .arg("-c")
        .arg(code)
        .args(args)
        .output()
        .unwrap()
}

/// Runs several `model_signing ARGS` command lines in one Python process (its import is slow);
/// returns whether each succeeded.
fn model_signing_batch(runs: &[Vec<String>]) -> Vec<bool> {
    let code = "import sys, json, contextlib, io
from model_signing import _cli
res = []
for argv in json.loads(sys.argv[1]):
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
            _cli.main.main(args=argv, prog_name='model_signing', standalone_mode=False)
        ok = True
    except SystemExit as e:
        ok = e.code in (0, None)
    except Exception as e:
        ok = False
    res.append([ok, buf.getvalue()])
print(json.dumps(res))";
    let o = py(code, &[&serde_json::to_string(runs).unwrap()]);
    assert!(o.status.success(), "{}", out(&o));
    let v: Vec<(bool, String)> = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v.len(), runs.len());
    v.into_iter().map(|(ok, _)| ok).collect()
}

/// `python -m model_signing ARGS`; returns (success, output).
fn model_signing(args: &[&str]) -> (bool, String) {
    let o = py(
        "import sys, runpy; sys.argv = ['model_signing'] + sys.argv[1:]; runpy.run_module('model_signing', run_name='__main__')",
        args,
    );
    (o.status.success(), out(&o))
}

fn ms_verify_args(model: &Path, sig: &Path, key: &Path) -> Vec<String> {
    [
        "verify",
        "key",
        s(model),
        "--signature",
        s(sig),
        "--public_key",
        s(key),
    ]
    .map(String::from)
    .to_vec()
}

fn lantern(args: &[&str]) -> Output {
    Command::cargo_bin("lantern")
        .unwrap()
        .args(args)
        .output()
        .unwrap()
}

fn out(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A small sharded-checkpoint-like model, with git files that must be ignored.
fn make_model(root: &Path) -> PathBuf {
    let m = root.join("model");
    std::fs::create_dir_all(m.join("tokenizer")).unwrap();
    std::fs::create_dir_all(m.join(".git")).unwrap();
    let big: Vec<u8> = (0..300_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    std::fs::write(m.join("model-00001-of-00002.safetensors"), &big).unwrap();
    std::fs::write(m.join("model-00002-of-00002.safetensors"), &big[..1234]).unwrap();
    std::fs::write(m.join("config.json"), br#"{"hidden_size": 64}"#).unwrap();
    std::fs::write(m.join("tokenizer/tokenizer.json"), br#"{"vocab": {}}"#).unwrap();
    std::fs::write(m.join("empty.txt"), b"").unwrap();
    std::fs::write(m.join(".git/HEAD"), b"ref: refs/heads/main\n").unwrap();
    std::fs::write(m.join(".gitignore"), b"*.tmp\n").unwrap();
    m
}

fn keygen(dir: &Path, kind: &str) -> (PathBuf, PathBuf) {
    let prefix = dir.join(format!("key-{kind}"));
    let o = lantern(&["keygen", "--type", kind, "--out", s(&prefix)]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    (
        dir.join(format!("key-{kind}.pem")),
        dir.join(format!("key-{kind}.pub")),
    )
}

fn py_sec1_key(dir: &Path, curve: &str) -> (PathBuf, PathBuf) {
    let (sk, pk) = (
        dir.join(format!("py-{curve}.pem")),
        dir.join(format!("py-{curve}.pub")),
    );
    let o = py(
        "import sys
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives import serialization as s
k = ec.generate_private_key(getattr(ec, sys.argv[1].upper())())
open(sys.argv[2], 'wb').write(k.private_bytes(s.Encoding.PEM, s.PrivateFormat.TraditionalOpenSSL, s.NoEncryption()))
open(sys.argv[3], 'wb').write(k.public_key().public_bytes(s.Encoding.PEM, s.PublicFormat.SubjectPublicKeyInfo))",
        &[curve, s(&sk), s(&pk)],
    );
    assert!(o.status.success(), "{}", out(&o));
    (sk, pk)
}

/// `lantern verify MODEL FLAGS...`.
fn lantern_verify_with(model: &Path, flags: &[&str]) -> Output {
    let mut args = vec!["verify", s(model)];
    args.extend_from_slice(flags);
    lantern(&args)
}

/// `lantern sign MODEL --key KEY --signature SIG FLAGS...`.
fn lantern_sign(model: &Path, key: &Path, sig: &Path, flags: &[&str]) -> Output {
    let mut args = vec!["sign", s(model), "--key", s(key), "--signature", s(sig)];
    args.extend_from_slice(flags);
    lantern(&args)
}

fn lantern_verify(model: &Path, sig: &Path, key: &Path) -> Output {
    lantern_verify_with(model, &["--signature", s(sig), "--key", s(key), "-q"])
}

fn ms_verify(model: &Path, sig: &Path, key: &Path) -> (bool, String) {
    let args = ms_verify_args(model, sig, key);
    model_signing(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

/// Checks that both tools accept the untouched model, then applies each tampering case to a
/// fresh copy and checks both reject it (model_signing runs once for all cases).
fn check_tampering(dir: &Path, model: &Path, sig: &Path, key: &Path) {
    type Case = (&'static str, fn(&Path), &'static str);
    let cases: [Case; 3] = [
        (
            "byte flipped",
            |m| {
                let p = m.join("model-00001-of-00002.safetensors");
                let mut b = std::fs::read(&p).unwrap();
                b[150_000] ^= 1;
                std::fs::write(&p, b).unwrap();
            },
            "changed  model-00001-of-00002.safetensors",
        ),
        (
            "file added",
            |m| std::fs::write(m.join("tokenizer/extra.py"), b"import os").unwrap(),
            "added    tokenizer/extra.py",
        ),
        (
            "file removed",
            |m| std::fs::remove_file(m.join("config.json")).unwrap(),
            "missing  config.json",
        ),
    ];
    let o = lantern_verify(model, sig, key);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let mut runs = vec![("untouched".to_string(), ms_verify_args(model, sig, key))];
    for (name, tamper, expect) in cases {
        let copy = dir.join(format!("copy-{}", name.replace(' ', "-")));
        let m = make_model(&copy);
        tamper(&m);
        let o = lantern_verify(&m, sig, key);
        assert_eq!(
            o.status.code(),
            Some(1),
            "{name}: lantern must reject: {}",
            out(&o)
        );
        assert!(out(&o).contains(expect), "{name}: {}", out(&o));
        runs.push((name.to_string(), ms_verify_args(&m, sig, key)));
    }
    let text = std::fs::read_to_string(sig).unwrap();
    let pristine = make_model(&dir.join("pristine"));
    // Signature edited: one base64 character of the DSSE signature changed.
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let sig_b64 = v["dsseEnvelope"]["signatures"][0]["sig"]
        .as_str()
        .unwrap()
        .to_string();
    let mut chars: Vec<char> = sig_b64.chars().collect();
    chars[20] = if chars[20] == 'A' { 'B' } else { 'A' };
    v["dsseEnvelope"]["signatures"][0]["sig"] =
        serde_json::Value::String(chars.into_iter().collect());
    let edited_sig = dir.join("edited-signature.sig");
    std::fs::write(&edited_sig, v.to_string()).unwrap();
    let o = lantern_verify(&pristine, &edited_sig, key);
    assert_eq!(o.status.code(), Some(1), "edited signature: {}", out(&o));
    assert!(out(&o).contains("signature does not verify"), "{}", out(&o));
    runs.push((
        "edited signature".into(),
        ms_verify_args(&pristine, &edited_sig, key),
    ));
    // The payload edited with the signature left alone.
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let payload = v["dsseEnvelope"]["payload"].as_str().unwrap().to_string();
    let mut chars: Vec<char> = payload.chars().collect();
    let i = chars.len() / 2;
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    v["dsseEnvelope"]["payload"] = serde_json::Value::String(chars.into_iter().collect());
    let edited_payload = dir.join("edited-payload.sig");
    std::fs::write(&edited_payload, v.to_string()).unwrap();
    let o = lantern_verify(&pristine, &edited_payload, key);
    assert_eq!(o.status.code(), Some(1), "edited payload: {}", out(&o));
    runs.push((
        "edited payload".into(),
        ms_verify_args(&pristine, &edited_payload, key),
    ));
    let argv: Vec<Vec<String>> = runs.iter().map(|(_, a)| a.clone()).collect();
    let results = model_signing_batch(&argv);
    for ((name, _), ok) in runs.iter().zip(results) {
        assert_eq!(
            ok,
            name == "untouched",
            "model_signing on {name}: accepted={ok}"
        );
    }
}

#[test]
fn lantern_signs_model_signing_verifies_p256_and_tampering() {
    let d = tempfile::tempdir().unwrap();
    let m = make_model(d.path());
    let (sk, pk) = keygen(d.path(), "p256");
    let sig = d.path().join("model.sig");
    let o = lantern_sign(&m, &sk, &sig, &["-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let o = lantern_verify(&m, &sig, &pk);
    assert!(
        out(&o).contains("verified:") && out(&o).contains("(5 files)"),
        "{}",
        out(&o)
    );
    // Includes model_signing accepting the untouched model.
    check_tampering(d.path(), &m, &sig, &pk);
}

#[test]
fn model_signing_signs_lantern_verifies_sec1_p256_and_tampering() {
    let d = tempfile::tempdir().unwrap();
    let m = make_model(d.path());
    let (sk, pk) = py_sec1_key(d.path(), "secp256r1");
    // Signature inside the model directory: both tools must leave it out of the manifest.
    let sig = m.join("model.sig");
    let (ok, text) = model_signing(&[
        "sign",
        "key",
        s(&m),
        "--private_key",
        s(&sk),
        "--signature",
        s(&sig),
    ]);
    assert!(ok, "{text}");
    let o = lantern_verify(&m, &sig, &pk);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    // Lantern signs with the SEC1 key model_signing used; model_signing verifies.
    let sig2 = d.path().join("lantern.sig");
    let o = lantern_sign(&m, &sk, &sig2, &["-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert!(ms_verify(&m, &sig2, &pk).0);
    let outside = d.path().join("model-signing.sig");
    std::fs::copy(&sig, &outside).unwrap();
    check_tampering(d.path(), &m, &outside, &pk);
}

#[test]
fn p384_both_directions() {
    let d = tempfile::tempdir().unwrap();
    let m = make_model(d.path());
    let (sk, pk) = keygen(d.path(), "p384");
    let sig = d.path().join("l.sig");
    assert_eq!(lantern_sign(&m, &sk, &sig, &["-q"]).status.code(), Some(0));
    let (ok, text) = ms_verify(&m, &sig, &pk);
    assert!(ok, "{text}");
    let sig2 = d.path().join("p.sig");
    let (ok, text) = model_signing(&[
        "sign",
        "key",
        s(&m),
        "--private_key",
        s(&sk),
        "--signature",
        s(&sig2),
    ]);
    assert!(ok, "{text}");
    assert_eq!(lantern_verify(&m, &sig2, &pk).status.code(), Some(0));
}

#[test]
fn single_file_model_and_shards_interoperate_through_the_api() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("weights.bin");
    let data: Vec<u8> = (0..250_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&f, &data).unwrap();
    let (sk, pk) = keygen(d.path(), "p256");
    // Lantern shards -> model_signing API verification with the same shard configuration.
    let sig = d.path().join("shards.sig");
    let o = lantern_sign(&f, &sk, &sig, &["--shard-size", "100000", "-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let verify_api = "import sys, model_signing as ms
h = ms.hashing.Config().use_shard_serialization(shard_size=int(sys.argv[4]))
ms.verifying.Config().use_elliptic_key_verifier(public_key=sys.argv[3]).set_hashing_config(h).verify(sys.argv[1], sys.argv[2])";
    let o = py(verify_api, &[s(&f), s(&sig), s(&pk), "100000"]);
    assert!(
        o.status.success(),
        "model_signing rejected Lantern shards: {}",
        out(&o)
    );
    // model_signing shards (its shard_size is written as a double) -> Lantern.
    let sig2 = d.path().join("py-shards.sig");
    let sign_api = "import sys, model_signing as ms
h = ms.hashing.Config().use_shard_serialization(shard_size=100000)
ms.signing.Config().use_elliptic_key_signer(private_key=sys.argv[2]).set_hashing_config(h).sign(sys.argv[1], sys.argv[3])";
    let o = py(sign_api, &[s(&f), s(&sk), s(&sig2)]);
    assert!(o.status.success(), "{}", out(&o));
    assert_eq!(lantern_verify(&f, &sig2, &pk).status.code(), Some(0));
    // Single-file "files" serialization both ways through the CLIs.
    let sig3 = d.path().join("file.sig");
    assert_eq!(lantern_sign(&f, &sk, &sig3, &["-q"]).status.code(), Some(0));
    assert!(ms_verify(&f, &sig3, &pk).0);
    let mut t = data.clone();
    t[249_999] ^= 0xff;
    std::fs::write(&f, &t).unwrap();
    let o = lantern_verify(&f, &sig2, &pk);
    assert_eq!(o.status.code(), Some(1));
    assert!(out(&o).contains("changed  ."), "{}", out(&o));
    assert!(!ms_verify(&f, &sig3, &pk).0);
}

#[test]
fn ed25519_round_trip_and_wrong_key() {
    let d = tempfile::tempdir().unwrap();
    let m = make_model(d.path());
    let (sk, pk) = keygen(d.path(), "ed25519");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&sk).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let sig = d.path().join("m.sig");
    assert_eq!(lantern_sign(&m, &sk, &sig, &["-q"]).status.code(), Some(0));
    assert_eq!(lantern_verify(&m, &sig, &pk).status.code(), Some(0));
    let (_, other) = keygen(d.path(), "p256");
    let o = lantern_verify(&m, &sig, &other);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(out(&o).contains("key mismatch"), "{}", out(&o));
    let o = lantern_verify_with(
        &m,
        &[
            "--signature",
            s(&sig),
            "--key",
            s(&m.join("..").join("m.sig")),
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    let o = lantern_verify_with(
        &m,
        &["--signature", s(&sig), "--key", s(&pk), "--format", "json"],
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["verified"], true);
    assert_eq!(v["files"], 5);
    // An ignored path is recorded in the signature and left out on verification too.
    let sig2 = d.path().join("ign.sig");
    let cfg = m.join("config.json");
    let o = lantern_sign(&m, &sk, &sig2, &["--ignore-paths", s(&cfg), "-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    std::fs::write(&cfg, b"changed").unwrap();
    let o = lantern_verify_with(
        &m,
        &["--signature", s(&sig2), "--key", s(&pk), "--format", "json"],
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (v["verified"].as_bool(), v["files"].as_u64()),
        (Some(true), Some(4)),
        "{v}"
    );
    let o = lantern_verify(&m, &sig, &pk);
    assert_eq!(o.status.code(), Some(1));
    assert!(out(&o).contains("changed  config.json"), "{}", out(&o));
}

#[test]
fn bad_inputs_are_clear_errors_never_panics() {
    let d = tempfile::tempdir().unwrap();
    let m = make_model(d.path());
    let (sk, pk) = keygen(d.path(), "p256");
    let sig = d.path().join("m.sig");
    assert_eq!(lantern_sign(&m, &sk, &sig, &["-q"]).status.code(), Some(0));
    let bad = d.path().join("bad.sig");
    for (doc, needle) in [
        ("{not json", "malformed bundle"),
        (
            r#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}"#,
            "verificationMaterial",
        ),
        (r#"[1,2,3]"#, "mediaType"),
    ] {
        std::fs::write(&bad, doc).unwrap();
        let o = lantern_verify(&m, &bad, &pk);
        assert_eq!(o.status.code(), Some(2), "{}", out(&o));
        assert!(
            out(&o).contains(needle) && out(&o).contains("bad.sig"),
            "{doc}: {}",
            out(&o)
        );
        assert!(!out(&o).contains("panicked"));
    }
    // A private key where a public key is expected, a public key where a private one is.
    let o = lantern_verify(&m, &sig, &sk);
    assert_eq!(o.status.code(), Some(2));
    assert!(out(&o).contains("private key"), "{}", out(&o));
    let o = lantern_sign(&m, &pk, &bad, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(out(&o).contains("public key"), "{}", out(&o));
    // Missing model.
    let o = lantern_verify(&d.path().join("nope"), &sig, &pk);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink("loop", m.join("loop")).unwrap();
        let o = lantern_sign(&m, &sk, &bad, &["--allow-symlinks"]);
        assert_eq!(o.status.code(), Some(2));
        assert!(out(&o).contains("symlink loop"), "{}", out(&o));
        let o = lantern_sign(&m, &sk, &bad, &[]);
        assert!(out(&o).contains("is a symlink"), "{}", out(&o));
        std::fs::remove_file(m.join("loop")).unwrap();
        std::os::unix::fs::symlink("../../", m.join("up")).unwrap();
        let o = lantern_sign(&m, &sk, &bad, &["--allow-symlinks"]);
        assert_eq!(o.status.code(), Some(2));
        assert!(
            out(&o).contains("escapes the model directory"),
            "{}",
            out(&o)
        );
    }
}

#[test]
fn attest_and_verify_provenance() {
    let d = tempfile::tempdir().unwrap();
    let m = make_model(d.path());
    let (sk, pk) = keygen(d.path(), "p256");
    let data = d.path().join("train.jsonl");
    std::fs::write(&data, b"{\"text\": \"hello\"}\n").unwrap();
    let cfg = d.path().join("train.yaml");
    std::fs::write(&cfg, b"lr: 0.0001\n").unwrap();
    let base = make_model(&d.path().join("base"));
    let prov = d.path().join("run.intoto.sig");
    let o = lantern(&[
        "attest",
        s(&m),
        "--key",
        s(&sk),
        "--out",
        s(&prov),
        "--dataset",
        s(&data),
        "--config",
        s(&cfg),
        "--base-model",
        s(&base),
        "--code-commit",
        "0123456789abcdef0123456789abcdef01234567",
        "--code-repo",
        "https://github.com/org/train",
        "--started-on",
        "2026-11-25T10:00:00Z",
        "--param",
        "epochs=3",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let bundle: serde_json::Value = serde_json::from_slice(&std::fs::read(&prov).unwrap()).unwrap();
    assert_eq!(
        bundle["dsseEnvelope"]["payloadType"],
        "application/vnd.in-toto+json"
    );
    let verify_prov = |inputs: &[&Path]| {
        let mut args = vec!["--provenance", s(&prov), "--key", s(&pk)];
        for i in inputs {
            args.extend(["--input", s(i)]);
        }
        args.push("-q");
        lantern_verify_with(&m, &args)
    };
    let o = verify_prov(&[&data, &cfg, &base]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    std::fs::write(&data, b"{\"text\": \"poison\"}\n").unwrap();
    let o = verify_prov(&[&data]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(
        out(&o).contains("input not in provenance") && out(&o).contains("train.jsonl"),
        "{}",
        out(&o)
    );
    std::fs::write(m.join("config.json"), b"{}").unwrap();
    let o = verify_prov(&[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(out(&o).contains("changed  config.json"), "{}", out(&o));
    // A model signature is not a provenance statement, and vice versa.
    let o = lantern_verify(&m, &prov, &pk);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(out(&o).contains("predicateType"), "{}", out(&o));
}

#[test]
fn certificate_chains_both_directions() {
    certificate_chain_round_trip("ec");
}

/// An enterprise RSA root and intermediate above an ECDSA signing certificate.
#[test]
fn rsa_ca_certificate_chains_both_directions() {
    certificate_chain_round_trip("rsa");
}

/// Certificate signing and verification, Lantern and model_signing in both directions, with CA
/// keys of `ca_kind` ("ec": P-384 root, P-256 intermediate; "rsa": RSA-3072 root, RSA-2048
/// intermediate with PKCS#1 v1.5 signatures) and a P-256 signing certificate.
fn certificate_chain_round_trip(ca_kind: &str) {
    let d = tempfile::tempdir().unwrap();
    let m = make_model(d.path());
    let (ca, inter, leaf, leaf_key, rogue) = (
        d.path().join("ca.pem"),
        d.path().join("inter.pem"),
        d.path().join("leaf.pem"),
        d.path().join("leaf.key"),
        d.path().join("rogue.pem"),
    );
    let o = py(
        "import sys, datetime
from cryptography import x509
from cryptography.x509.oid import NameOID, ExtendedKeyUsageOID
from cryptography.hazmat.primitives import hashes, serialization as s
from cryptography.hazmat.primitives.asymmetric import ec, rsa
now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=1)
def name(cn): return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
def cert(subject, key, issuer, issuer_key, ca, curve_hash):
    b = (x509.CertificateBuilder().subject_name(name(subject)).issuer_name(name(issuer)).public_key(key.public_key())
         .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=30))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        b = b.add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
    else:
        b = b.add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
        b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
    return b.sign(issuer_key, curve_hash)
if sys.argv[6] == 'rsa':
    ca_key = rsa.generate_private_key(65537, 3072); inter_key = rsa.generate_private_key(65537, 2048)
else:
    ca_key = ec.generate_private_key(ec.SECP384R1()); inter_key = ec.generate_private_key(ec.SECP256R1())
leaf_key = ec.generate_private_key(ec.SECP256R1())
rogue_key = ec.generate_private_key(ec.SECP256R1())
ca = cert('Root CA', ca_key, 'Root CA', ca_key, True, hashes.SHA384())
inter = cert('Intermediate', inter_key, 'Root CA', ca_key, True, hashes.SHA384())
leaf = cert('model signer', leaf_key, 'Intermediate', inter_key, False, hashes.SHA256())
rogue = cert('Root CA', rogue_key, 'Root CA', rogue_key, True, hashes.SHA256())
pem = lambda c: c.public_bytes(s.Encoding.PEM)
open(sys.argv[1], 'wb').write(pem(ca)); open(sys.argv[2], 'wb').write(pem(inter)); open(sys.argv[3], 'wb').write(pem(leaf))
open(sys.argv[4], 'wb').write(leaf_key.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption()))
open(sys.argv[5], 'wb').write(pem(rogue))",
        &[s(&ca), s(&inter), s(&leaf), s(&leaf_key), s(&rogue), ca_kind],
    );
    assert!(o.status.success(), "{}", out(&o));
    let verify_chain = |sig: &Path, chain: &Path| {
        lantern_verify_with(
            &m,
            &["--signature", s(sig), "--certificate-chain", s(chain), "-q"],
        )
    };
    // model_signing signs with the certificate -> Lantern verifies against the root.
    let sig = d.path().join("cert.sig");
    let (ok, text) = model_signing(&[
        "sign",
        "certificate",
        s(&m),
        "--private_key",
        s(&leaf_key),
        "--signing_certificate",
        s(&leaf),
        "--certificate_chain",
        s(&inter),
        "--signature",
        s(&sig),
    ]);
    assert!(ok, "{text}");
    let o = verify_chain(&sig, &ca);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let o = verify_chain(&sig, &rogue);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(
        out(&o).contains("certificate chain rejected"),
        "{}",
        out(&o)
    );
    // Lantern signs with the certificate -> model_signing verifies against the root.
    let sig2 = d.path().join("lantern-cert.sig");
    let o = lantern(&[
        "sign",
        s(&m),
        "--key",
        s(&leaf_key),
        "--certificate",
        s(&leaf),
        "--certificate-chain",
        s(&inter),
        "--signature",
        s(&sig2),
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let (ok, text) = model_signing(&[
        "verify",
        "certificate",
        s(&m),
        "--signature",
        s(&sig2),
        "--certificate_chain",
        s(&ca),
    ]);
    assert!(
        ok,
        "model_signing rejected a Lantern certificate signature: {text}"
    );
    let o = verify_chain(&sig2, &ca);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    std::fs::write(m.join("config.json"), b"{}").unwrap();
    let o = verify_chain(&sig2, &ca);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        !model_signing(&[
            "verify",
            "certificate",
            s(&m),
            "--signature",
            s(&sig2),
            "--certificate_chain",
            s(&ca)
        ])
        .0
    );
}

/// The payload of a bundle (the base64 in-toto statement), which is deterministic for one model.
fn bundle_payload(sig: &Path) -> String {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(sig).unwrap()).unwrap();
    v["dsseEnvelope"]["payload"].as_str().unwrap().to_string()
}

#[test]
fn mapped_pipelined_interleaved_and_read_hashing_sign_the_same_statement() {
    let d = tempfile::tempdir().unwrap();
    let m = make_model(d.path());
    // Above the mapping threshold (4 MiB), with a pattern that a misplaced window would change.
    let big: Vec<u8> = (0..(6u32 << 20))
        .map(|i| (i.wrapping_mul(2654435761) >> 11) as u8)
        .collect();
    std::fs::write(m.join("model-00003-of-00003.safetensors"), &big).unwrap();
    let (sk, pk) = keygen(d.path(), "p256");
    let runs: [&[&str]; 6] = [
        &[],
        &["--no-mmap"],
        &["-j", "1"],
        &["-j", "1", "--no-mmap"],
        &["--no-interleave"],
        &["-j", "1", "--no-interleave", "--no-mmap"],
    ];
    let mut payloads = Vec::new();
    for (i, extra) in runs.iter().enumerate() {
        let sig = d.path().join(format!("m{i}.sig"));
        let mut args = vec!["sign", s(&m), "--key", s(&sk), "--signature", s(&sig), "-q"];
        args.extend_from_slice(extra);
        let o = lantern(&args);
        assert_eq!(o.status.code(), Some(0), "{extra:?}: {}", out(&o));
        payloads.push(bundle_payload(&sig));
        let o = lantern_verify(&m, &sig, &pk);
        assert_eq!(o.status.code(), Some(0), "{extra:?}: {}", out(&o));
    }
    assert!(payloads.windows(2).all(|w| w[0] == w[1]));
    // The lone big file alone takes the pipelined path (fewer files than threads).
    let one = m.join("model-00003-of-00003.safetensors");
    let sig = d.path().join("one.sig");
    let o = lantern_sign(&one, &sk, &sig, &["-q", "-j", "2"]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let o = lantern_verify_with(
        &one,
        &[
            "--key",
            s(&pk),
            "--signature",
            s(&sig),
            "-q",
            "--no-mmap",
            "-j",
            "1",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let (ok, msg) = ms_verify(&one, &sig, &pk);
    assert!(ok, "model_signing rejected the pipelined signature: {msg}");
}

/// `lantern ARGS` with extra environment variables.
fn lantern_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::cargo_bin("lantern").unwrap();
    c.env_remove("LANTERN_KEY_PASSWORD");
    for (k, v) in env {
        c.env(k, v);
    }
    c.args(args).output().unwrap()
}

#[test]
fn encrypted_private_keys_sign_both_ways_with_model_signing() {
    let d = tempfile::tempdir().unwrap();
    let m = make_model(d.path());
    let prefix = d.path().join("enc");
    let (sk, pk) = (d.path().join("enc.pem"), d.path().join("enc.pub"));
    let pw = [("LANTERN_KEY_PASSWORD", "s3cret pass")];
    // --encrypt without a password is a usage error; with one the key is encrypted PKCS#8.
    let o = lantern_env(&["keygen", "--out", s(&prefix), "--encrypt"], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(out(&o).contains("LANTERN_KEY_PASSWORD"), "{}", out(&o));
    let o = lantern_env(&["keygen", "--out", s(&prefix), "--encrypt"], &pw);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let pem = std::fs::read_to_string(&sk).unwrap();
    assert!(
        pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"),
        "{pem}"
    );

    // Lantern signs with it (password from the environment, then from a file) ...
    let sig = d.path().join("enc.sig");
    let sign = |env: &[(&str, &str)], extra: &[&str]| {
        let mut args = vec!["sign", s(&m), "--key", s(&sk), "--signature", s(&sig), "-q"];
        args.extend_from_slice(extra);
        lantern_env(&args, env)
    };
    let o = sign(&[], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(
        out(&o).contains("encrypted") && out(&o).contains("enc.pem"),
        "{}",
        out(&o)
    );
    let o = sign(&[("LANTERN_KEY_PASSWORD", "wrong")], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(out(&o).contains("wrong password"), "{}", out(&o));
    let pwfile = d.path().join("pw.txt");
    std::fs::write(&pwfile, "s3cret pass\n").unwrap();
    let o = sign(&[], &["--password-file", s(&pwfile)]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let o = sign(&pw, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    // ... and model_signing verifies the signature,
    let (ok, msg) = ms_verify(&m, &sig, &pk);
    assert!(ok, "model_signing rejected the signature: {msg}");
    // ... and signs with the same encrypted key, which Lantern verifies. (model_signing 1.1.1's
    // own `--password` flag hands a str where `cryptography` wants bytes and always fails, so
    // its library API is used, with the password as bytes.)
    let ms_sig = d.path().join("ms.sig");
    let o = py(
        "import sys
from model_signing import signing
signing.Config().use_elliptic_key_signer(private_key=sys.argv[1], password=sys.argv[2].encode()).sign(sys.argv[3], sys.argv[4])",
        &[s(&sk), "s3cret pass", s(&m), s(&ms_sig)],
    );
    let (ok, msg) = (o.status.success(), out(&o));
    assert!(
        ok,
        "model_signing could not use Lantern's encrypted key: {msg}"
    );
    let o = lantern_verify(&m, &ms_sig, &pk);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    // A key encrypted by OpenSSL's own tooling (PBES2 + PBKDF2) signs too.
    let py_key = d.path().join("py.pem");
    let code = "import sys
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives import serialization as s
k = ec.generate_private_key(ec.SECP256R1())
open(sys.argv[1], 'wb').write(k.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.BestAvailableEncryption(b'py-pass')))
open(sys.argv[2], 'wb').write(k.public_key().public_bytes(s.Encoding.PEM, s.PublicFormat.SubjectPublicKeyInfo))";
    let py_pub = d.path().join("py.pub");
    let o = py(code, &[s(&py_key), s(&py_pub)]);
    assert!(o.status.success(), "{}", out(&o));
    let o = lantern_env(
        &[
            "sign",
            s(&m),
            "--key",
            s(&py_key),
            "--signature",
            s(&sig),
            "-q",
        ],
        &[("LANTERN_KEY_PASSWORD", "py-pass")],
    );
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let (ok, msg) = ms_verify(&m, &sig, &py_pub);
    assert!(ok, "{msg}");
}

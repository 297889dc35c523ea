//! Arbitrary input never panics: every parser sees random bytes and mutated real files under
//! each file name it claims, and answers with findings or warnings.

use lantern_core::config::IacConfig;
use lantern_core::Location;
use lantern_iac::IacScanner;
use proptest::prelude::*;

const NAMES: &[&str] = &[
    "m/main.tf",
    "m/terraform.tfvars",
    "k/a.yaml",
    "values.yaml",
    "docker-compose.yml",
    "p.json",
    "Dockerfile",
    "u.service",
    "s.sh",
    "a.py",
];

const SEED: &str = "resource \"aws_s3_bucket_policy\" \"p\" {\n  policy = jsonencode({ Statement = [{ Principal = \"*\" }] })\n}\napiVersion: v1\nkind: Service\nspec: {type: LoadBalancer, ports: [{port: 8265}]}\nservices:\n  a: {image: ollama/ollama, ports: [\"11434\"]}\nCMD [\"jupyter\", \"lab\", \"--ServerApp.token=\"]\nExecStart=ollama serve\ndemo.launch(share=True\n{\"Statement\": [{\"Principal\": \"*\", \"Action\": \"s3:*\"}], \"bindings\": []}\n";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048), n in 0..NAMES.len()) {
        let s = IacScanner::new(&IacConfig::default()).unwrap();
        let _ = s.analyse(&data, &Location::path(NAMES[n]));
    }

    #[test]
    fn mutated_seed_never_panics(cut in 0..SEED.len(), insert in "[{}\\[\\]\"'=:\\-\\n ({é]{0,12}", n in 0..NAMES.len()) {
        let mut text = SEED.to_string();
        let mut at = cut;
        while !text.is_char_boundary(at) { at -= 1; }
        text.insert_str(at, &insert);
        let s = IacScanner::new(&IacConfig::default()).unwrap();
        let _ = s.analyse(text.as_bytes(), &Location::path(NAMES[n]));
    }
}

#[test]
fn deep_nesting_is_refused_not_a_stack_overflow() {
    let s = IacScanner::new(&IacConfig::default()).unwrap();
    let deep_yaml = format!("a: {}1{}\n", "[".repeat(5000), "]".repeat(5000));
    let o = s.analyse(deep_yaml.as_bytes(), &Location::path("k/deep.yaml"));
    assert_eq!(o.warnings.len(), 1, "{:?}", o.warnings);
    let deep_tf = format!(
        "locals {{\n  a = {}1{}\n}}\n",
        "[".repeat(5000),
        "]".repeat(5000)
    );
    let o = s.analyse(deep_tf.as_bytes(), &Location::path("m/deep.tf"));
    assert_eq!(o.warnings.len(), 1, "{:?}", o.warnings);
    let deep_json = format!(
        "{{\"Statement\": {}1{}}}",
        "[".repeat(5000),
        "]".repeat(5000)
    );
    let o = s.analyse(deep_json.as_bytes(), &Location::path("p.json"));
    assert_eq!(o.warnings.len(), 1, "{:?}", o.warnings);
}

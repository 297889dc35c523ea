//! Scan model files given on the command line and print findings and warnings as JSON lines
//! (a debugging aid and the library-level benchmark driver; the product is `lantern scan`).

use lantern_core::Location;
use lantern_models::{scan_path, Policy};

fn main() {
    let policy = Policy::default();
    for arg in std::env::args().skip(1) {
        let rep = scan_path(std::path::Path::new(&arg), &Location::path(&arg), &policy);
        for f in &rep.findings {
            println!(
                "{}",
                serde_json::json!({"severity": f.severity, "rule": f.rule_id, "location": f.locations[0], "detail": f.detail})
            );
        }
        for w in &rep.warnings {
            println!(
                "{}",
                serde_json::json!({"warning": w.message, "path": w.path})
            );
        }
    }
}

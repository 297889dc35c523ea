//! The zip reader on archives written by real tools (the committed benign corpus): torch.save
//! output (ZIP64 end records) and Python's zipfile with `force_zip64`, through the central
//! directory and, with the directory cut off, through the local headers.

use lantern_core::Location;
use lantern_models::source::Mem;
use lantern_models::{scan_bytes, zip, Policy};
use std::path::Path;

const TORCH_ZIPS: &[&str] = &[
    "state_dict.pt",
    "state_dict.pth",
    "pytorch_model.bin",
    "many_tensors.pt",
    "whole_module.pt",
    "whole_conv_module.pt",
    "lightning_like.ckpt",
    "rezipped_force_zip64.pt",
];

fn read(name: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/benign/torch")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn real_zip64_archives_are_read_through_their_central_directory() {
    for name in TORCH_ZIPS {
        let data = read(name);
        let ar = zip::read_archive(&Mem(&data));
        assert!(!ar.recovered, "{name}: {:?}", ar.problems);
        assert!(ar.problems.is_empty(), "{name}: {:?}", ar.problems);
        assert_eq!(ar.prefix, 0, "{name}");
        let pkl = ar
            .entries
            .iter()
            .find(|e| e.name.ends_with("/data.pkl"))
            .unwrap_or_else(|| panic!("{name}: no data.pkl"));
        let body = zip::read_entry(&Mem(&data), pkl, 1 << 20).expect("data.pkl");
        assert_eq!(body.first(), Some(&0x80), "{name}");
        assert_eq!(body.last(), Some(&b'.'), "{name}");
    }
}

#[test]
fn real_zip64_archives_without_directory_are_recovered_from_local_headers() {
    for name in TORCH_ZIPS {
        let data = read(name);
        let cd = memchr_find(&data, b"PK\x01\x02").expect("central directory");
        let cut = &data[..cd];
        let ar = zip::read_archive(&Mem(cut));
        assert!(ar.recovered, "{name}");
        assert!(
            ar.entries.iter().any(|e| e.name.ends_with("/data.pkl")),
            "{name}: {:?}",
            ar.entries
        );
        // Only the missing directory is reported: the recovered pickle is benign.
        let r = scan_bytes(cut, &Location::path(*name), &Policy::default());
        let rules: Vec<&str> = r.findings.iter().map(|f| f.rule_id.as_str()).collect();
        assert_eq!(rules, vec!["zip.broken-central-directory"], "{name}: {r:?}");
    }
}

fn memchr_find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

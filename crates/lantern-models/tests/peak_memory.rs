//! Peak memory on inputs whose weights are larger than the scanner's 256 MiB budget: an
//! ONNX model with a 300 MiB inline `raw_data` tensor and an `.npz` with a 300 MiB deflated
//! float member beside an object member holding a payload. The findings must be right and
//! the process's peak RSS (VmHWM) under the budget. The only test in this binary, so VmHWM
//! is its own; it writes a 300 MiB file to a temp dir and takes a few seconds.

use flate2::write::DeflateEncoder;
use flate2::Compression;
use lantern_core::{Location, Severity};
use lantern_models::{scan_path, Policy};
use std::io::Write;

const BUDGET_KIB: u64 = 256 * 1024;
const WEIGHTS: u64 = 300 << 20;

fn peak_rss_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let l = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    l.split_whitespace().nth(1)?.parse().ok()
}

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Key and length of a length-delimited field of `len` bytes.
fn key_len(tag: u64, len: u64) -> Vec<u8> {
    let mut v = Vec::new();
    varint(tag << 3 | 2, &mut v);
    varint(len, &mut v);
    v
}

fn field(tag: u64, body: &[u8]) -> Vec<u8> {
    let mut v = key_len(tag, body.len() as u64);
    v.extend_from_slice(body);
    v
}

fn write_zeros(f: &mut impl Write, mut n: u64) {
    let chunk = vec![0u8; 1 << 20];
    while n > 0 {
        let k = n.min(chunk.len() as u64) as usize;
        f.write_all(&chunk[..k]).expect("write");
        n -= k as u64;
    }
}

/// ModelProto { opset_import, graph { node (custom domain), initializer { raw_data of
/// WEIGHTS bytes, external_data location escaping the directory } } }, written as a stream.
fn write_onnx(path: &std::path::Path) {
    let mut node = field(4, b"Backdoor");
    node.extend(field(7, b"evil.custom"));
    let mut pair = field(1, b"location");
    pair.extend(field(2, b"../../../etc/passwd"));
    let head = field(8, b"weights");
    let raw_key = key_len(9, WEIGHTS);
    let mut tail = field(13, &pair);
    tail.extend([14 << 3, 1]);
    let tensor_len = (head.len() + raw_key.len() + tail.len()) as u64 + WEIGHTS;
    let mut graph_head = field(1, &node);
    graph_head.extend(key_len(5, tensor_len));
    let graph_len = graph_head.len() as u64 + tensor_len;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    f.write_all(&[1 << 3, 9]).expect("write");
    f.write_all(&key_len(7, graph_len)).expect("write");
    for part in [&graph_head, &head, &raw_key] {
        f.write_all(part).expect("write");
    }
    write_zeros(&mut f, WEIGHTS);
    f.write_all(&tail).expect("write");
    f.flush().expect("flush");
}

fn npy(descr: &str, shape: u64) -> Vec<u8> {
    let mut hdr = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': ({shape},), }}")
        .into_bytes();
    while (hdr.len() + 11) % 64 != 0 {
        hdr.push(b' ');
    }
    hdr.push(b'\n');
    let mut v = b"\x93NUMPY\x01\x00".to_vec();
    v.extend_from_slice(&(hdr.len() as u16).to_le_bytes());
    v.extend(hdr);
    v
}

/// Local or central header of a deflated member (CRC left 0: not checked by the scanner).
fn header(name: &str, csize: u32, usize_: u32, offset: Option<u32>) -> Vec<u8> {
    let mut h = match offset {
        Some(_) => b"PK\x01\x02\x14\x00\x14\x00\x00\x00\x08\x00".to_vec(),
        None => b"PK\x03\x04\x14\x00\x00\x00\x08\x00".to_vec(),
    };
    h.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]); // time, date, crc
    h.extend_from_slice(&csize.to_le_bytes());
    h.extend_from_slice(&usize_.to_le_bytes());
    h.extend_from_slice(&(name.len() as u16).to_le_bytes());
    h.extend_from_slice(&[0, 0]);
    if let Some(off) = offset {
        h.extend_from_slice(&[0; 10]);
        h.extend_from_slice(&off.to_le_bytes());
    }
    h.extend_from_slice(name.as_bytes());
    h
}

fn deflate(parts: &[&[u8]], zeros: u64) -> Vec<u8> {
    let mut e = DeflateEncoder::new(Vec::new(), Compression::fast());
    for p in parts {
        e.write_all(p).expect("deflate");
    }
    write_zeros(&mut e, zeros);
    e.finish().expect("deflate")
}

/// An `.npz` of a WEIGHTS-byte float array and an object array whose pickle calls os.system.
fn write_npz(path: &std::path::Path) {
    let big_hdr = npy("<f4", WEIGHTS / 4);
    let big = deflate(&[&big_hdr], WEIGHTS);
    let obj_hdr = npy("|O", 1);
    let pickle = b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00id\x85R.";
    let obj = deflate(&[&obj_hdr, pickle], 0);
    let members = [
        ("big.npy", big, big_hdr.len() as u64 + WEIGHTS),
        ("obj.npy", obj, (obj_hdr.len() + pickle.len()) as u64),
    ];
    let mut out = Vec::new();
    let mut cd = Vec::new();
    for (name, data, ulen) in &members {
        let off = out.len() as u32;
        out.extend(header(name, data.len() as u32, *ulen as u32, None));
        out.extend_from_slice(data);
        cd.extend(header(name, data.len() as u32, *ulen as u32, Some(off)));
    }
    let cd_off = out.len() as u32;
    out.extend_from_slice(&cd);
    out.extend_from_slice(b"PK\x05\x06\x00\x00\x00\x00\x02\x00\x02\x00");
    out.extend_from_slice(&(cd.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_off.to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    std::fs::write(path, out).expect("write");
}

#[test]
fn huge_onnx_and_npz_stay_under_the_memory_budget() {
    let dir = tempfile::tempdir().expect("tmp");
    let policy = Policy::default();

    let p = dir.path().join("model.onnx");
    write_onnx(&p);
    let rep = scan_path(&p, &Location::path("model.onnx"), &policy);
    assert!(rep.warnings.is_empty(), "{:?}", rep.warnings);
    let ids: Vec<&str> = rep.findings.iter().map(|f| f.rule_id.as_str()).collect();
    assert!(ids.contains(&"onnx.custom-op"), "{ids:?}");
    let esc = rep
        .findings
        .iter()
        .find(|f| f.rule_id == "onnx.external-data-escape")
        .unwrap_or_else(|| panic!("{ids:?}"));
    assert!(esc
        .detail
        .as_deref()
        .unwrap_or("")
        .contains("../../../etc/passwd"));
    std::fs::remove_file(&p).expect("rm");

    let p = dir.path().join("arrays.npz");
    write_npz(&p);
    let rep = scan_path(&p, &Location::path("arrays.npz"), &policy);
    assert!(rep.warnings.is_empty(), "{:?}", rep.warnings);
    let obj = rep
        .findings
        .iter()
        .find(|f| f.rule_id == "numpy.object-array")
        .unwrap_or_else(|| panic!("{:?}", rep.findings));
    assert_eq!(obj.locations[0].path, "arrays.npz!obj.npy");
    let call = rep
        .findings
        .iter()
        .find(|f| f.severity == Severity::Critical)
        .unwrap_or_else(|| panic!("{:?}", rep.findings));
    assert_eq!(call.detail.as_deref(), Some("os.system(\"id\")"));
    assert_eq!(call.locations[0].path, "arrays.npz!obj.npy");
    assert!(
        !rep.findings
            .iter()
            .any(|f| f.locations[0].path.ends_with("big.npy")),
        "{:?}",
        rep.findings
    );

    let peak = peak_rss_kib().expect("VmHWM");
    eprintln!("peak RSS {peak} KiB");
    assert!(peak < BUDGET_KIB, "peak RSS {peak} KiB");
}

//! A 3 GiB (sparse) PyTorch zip checkpoint is scanned by reading its directory and pickle only:
//! the bytes read are counted through a wrapping source, so the check does not depend on timing.

use lantern_core::{Location, Severity};
use lantern_models::source::{FileSource, Source};
use lantern_models::{scan_source_with, Policy};
use std::cell::Cell;
use std::io::{Seek, SeekFrom, Write};

const WEIGHTS: u64 = 3 << 30;

struct Counting<'a> {
    inner: &'a dyn Source,
    read: Cell<u64>,
}

impl Source for Counting<'_> {
    fn len(&self) -> u64 {
        self.inner.len()
    }
    fn read_at(&self, off: u64, len: usize) -> std::io::Result<Vec<u8>> {
        let b = self.inner.read_at(off, len)?;
        self.read.set(self.read.get() + b.len() as u64);
        Ok(b)
    }
}

fn short_unicode(s: &str) -> Vec<u8> {
    let mut v = vec![b'X'];
    v.extend_from_slice(&(s.len() as u32).to_le_bytes());
    v.extend_from_slice(s.as_bytes());
    v
}

/// `{"weight": _rebuild_tensor_v2(persistent_load(("storage", FloatStorage, "0", "cpu", n)),
/// 0, (n,), (1,), False, OrderedDict())}` as protocol 2, plus an optional payload.
fn data_pkl(payload: bool) -> Vec<u8> {
    let n = (WEIGHTS / 4) as u32;
    let mut p = b"\x80\x02}(".to_vec();
    p.extend(short_unicode("weight"));
    p.extend_from_slice(b"ctorch._utils\n_rebuild_tensor_v2\n((");
    p.extend(short_unicode("storage"));
    p.extend_from_slice(b"ctorch\nFloatStorage\n");
    p.extend(short_unicode("0"));
    p.extend(short_unicode("cpu"));
    p.push(b'J');
    p.extend_from_slice(&n.to_le_bytes());
    p.extend_from_slice(b"tQK\x00J");
    p.extend_from_slice(&n.to_le_bytes());
    p.extend_from_slice(b"\x85K\x01\x85\x89ccollections\nOrderedDict\n)RtRu");
    if payload {
        p.extend_from_slice(b"0cos\nsystem\n");
        p.extend(short_unicode("id"));
        p.extend_from_slice(b"\x85R");
    }
    p.push(b'.');
    p
}

fn local_header(name: &str, size: u32) -> Vec<u8> {
    let mut h = b"PK\x03\x04".to_vec();
    h.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    h.extend_from_slice(&size.to_le_bytes());
    h.extend_from_slice(&size.to_le_bytes());
    h.extend_from_slice(&(name.len() as u16).to_le_bytes());
    h.extend_from_slice(&0u16.to_le_bytes());
    h.extend_from_slice(name.as_bytes());
    h
}

fn central(name: &str, size: u32, offset: u32) -> Vec<u8> {
    let mut h = b"PK\x01\x02".to_vec();
    h.extend_from_slice(&[20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    h.extend_from_slice(&size.to_le_bytes());
    h.extend_from_slice(&size.to_le_bytes());
    h.extend_from_slice(&(name.len() as u16).to_le_bytes());
    h.extend_from_slice(&[0; 12]);
    h.extend_from_slice(&offset.to_le_bytes());
    h.extend_from_slice(name.as_bytes());
    h
}

fn write_checkpoint(path: &std::path::Path, payload: bool) {
    let pkl = data_pkl(payload);
    let mut f = std::fs::File::create(path).expect("create");
    let h1 = local_header("archive/data.pkl", pkl.len() as u32);
    f.write_all(&h1).expect("write");
    f.write_all(&pkl).expect("write");
    let off2 = (h1.len() + pkl.len()) as u32;
    f.write_all(&local_header("archive/data/0", WEIGHTS as u32))
        .expect("write");
    // The weights: a hole, never written (sparse file).
    f.seek(SeekFrom::Current(WEIGHTS as i64)).expect("seek");
    let cd_off = f.stream_position().expect("pos") as u32;
    let mut cd = central("archive/data.pkl", pkl.len() as u32, 0);
    cd.extend(central("archive/data/0", WEIGHTS as u32, off2));
    f.write_all(&cd).expect("write");
    let mut eocd = b"PK\x05\x06\x00\x00\x00\x00\x02\x00\x02\x00".to_vec();
    eocd.extend_from_slice(&(cd.len() as u32).to_le_bytes());
    eocd.extend_from_slice(&cd_off.to_le_bytes());
    eocd.extend_from_slice(&[0, 0]);
    f.write_all(&eocd).expect("write");
}

#[test]
fn multi_gigabyte_checkpoint_reads_only_metadata() {
    let dir = tempfile::tempdir().expect("tmp");
    for payload in [false, true] {
        let path = dir.path().join(format!("big_{payload}.pt"));
        write_checkpoint(&path, payload);
        let file = FileSource::open(&path).expect("open");
        assert!(file.len() > WEIGHTS);
        let counting = Counting {
            inner: &file,
            read: Cell::new(0),
        };
        let rep = scan_source_with(&counting, &Location::path("big.pt"), &Policy::default());
        assert!(
            counting.read.get() < 256 * 1024,
            "read {} bytes of a {} byte file",
            counting.read.get(),
            file.len()
        );
        assert!(rep.warnings.is_empty(), "{:?}", rep.warnings);
        if payload {
            assert_eq!(rep.findings.len(), 1, "{:?}", rep.findings);
            assert_eq!(rep.findings[0].severity, Severity::Critical);
            assert_eq!(rep.findings[0].detail.as_deref(), Some("os.system(\"id\")"));
            assert_eq!(rep.findings[0].locations[0].path, "big.pt!archive/data.pkl");
        } else {
            assert!(rep.findings.is_empty(), "{:?}", rep.findings);
        }
    }
}

/// An `.npz` whose stored `.npy` member holds 3 GiB of floats (a hole): the member's header is
/// read through a window of the archive, the data never.
#[test]
fn big_npz_member_is_scanned_in_place() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("arrays.npz");
    let n = WEIGHTS / 4;
    let mut hdr =
        format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({n},), }}").into_bytes();
    while (hdr.len() + 11) % 64 != 0 {
        hdr.push(b' ');
    }
    hdr.push(b'\n');
    let mut npy = b"\x93NUMPY\x01\x00".to_vec();
    npy.extend_from_slice(&(hdr.len() as u16).to_le_bytes());
    npy.extend(hdr);
    let member_len = npy.len() as u64 + WEIGHTS;
    let mut f = std::fs::File::create(&path).expect("create");
    f.write_all(&local_header("w.npy", member_len as u32))
        .expect("write");
    f.write_all(&npy).expect("write");
    f.seek(SeekFrom::Current(WEIGHTS as i64)).expect("seek");
    let cd_off = f.stream_position().expect("pos") as u32;
    let cd = central("w.npy", member_len as u32, 0);
    f.write_all(&cd).expect("write");
    let mut eocd = b"PK\x05\x06\x00\x00\x00\x00\x01\x00\x01\x00".to_vec();
    eocd.extend_from_slice(&(cd.len() as u32).to_le_bytes());
    eocd.extend_from_slice(&cd_off.to_le_bytes());
    eocd.extend_from_slice(&[0, 0]);
    f.write_all(&eocd).expect("write");
    drop(f);
    let file = FileSource::open(&path).expect("open");
    let counting = Counting {
        inner: &file,
        read: Cell::new(0),
    };
    let rep = scan_source_with(&counting, &Location::path("arrays.npz"), &Policy::default());
    assert!(rep.findings.is_empty(), "{:?}", rep.findings);
    assert!(rep.warnings.is_empty(), "{:?}", rep.warnings);
    assert!(
        counting.read.get() < 512 * 1024,
        "read {} bytes",
        counting.read.get()
    );
}

/// Past 4 GiB: stored weights of 4.5 GiB (a hole) first, so `data.pkl`'s local header sits at
/// an offset only a ZIP64 extra field can hold.
const BIG: u64 = (9 << 30) / 2;

fn zip64_extra(values: &[u64]) -> Vec<u8> {
    let mut e = 1u16.to_le_bytes().to_vec();
    e.extend_from_slice(&((values.len() * 8) as u16).to_le_bytes());
    for v in values {
        e.extend_from_slice(&v.to_le_bytes());
    }
    e
}

/// A ZIP64 header: local (`central` false) or central, with 32-bit fields set to 0xFFFFFFFF
/// where `extra` carries the real value.
fn header64(name: &str, size32: u32, offset32: u32, extra: &[u8], central: bool) -> Vec<u8> {
    let mut h = if central {
        b"PK\x01\x02\x2d\x00\x2d\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00".to_vec()
    } else {
        b"PK\x03\x04\x2d\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00".to_vec()
    };
    h.extend_from_slice(&size32.to_le_bytes());
    h.extend_from_slice(&size32.to_le_bytes());
    h.extend_from_slice(&(name.len() as u16).to_le_bytes());
    h.extend_from_slice(&(extra.len() as u16).to_le_bytes());
    if central {
        h.extend_from_slice(&[0; 10]);
        h.extend_from_slice(&offset32.to_le_bytes());
    }
    h.extend_from_slice(name.as_bytes());
    h.extend_from_slice(extra);
    h
}

/// Writes the archive; with `central` false the file ends after the members (no directory).
fn write_zip64_checkpoint(path: &std::path::Path, payload: bool, central: bool) {
    let pkl = data_pkl(payload);
    let mut f = std::fs::File::create(path).expect("create");
    let big_extra = zip64_extra(&[BIG, BIG]);
    f.write_all(&header64("archive/data/0", u32::MAX, 0, &big_extra, false))
        .expect("write");
    f.seek(SeekFrom::Current(BIG as i64)).expect("seek");
    let pkl_off = f.stream_position().expect("pos");
    assert!(pkl_off > u64::from(u32::MAX));
    f.write_all(&header64(
        "archive/data.pkl",
        pkl.len() as u32,
        0,
        &[],
        false,
    ))
    .expect("write");
    f.write_all(&pkl).expect("write");
    if !central {
        return;
    }
    let cd_off = f.stream_position().expect("pos");
    let mut cd = header64("archive/data/0", u32::MAX, 0, &big_extra, true);
    cd.extend(header64(
        "archive/data.pkl",
        pkl.len() as u32,
        u32::MAX,
        &zip64_extra(&[pkl_off]),
        true,
    ));
    f.write_all(&cd).expect("write");
    let rec_off = cd_off + cd.len() as u64;
    let mut rec = b"PK\x06\x06".to_vec();
    rec.extend_from_slice(&44u64.to_le_bytes());
    rec.extend_from_slice(&[45, 0, 45, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    for v in [2u64, 2, cd.len() as u64, cd_off] {
        rec.extend_from_slice(&v.to_le_bytes());
    }
    rec.extend_from_slice(b"PK\x06\x07\x00\x00\x00\x00");
    rec.extend_from_slice(&rec_off.to_le_bytes());
    rec.extend_from_slice(&1u32.to_le_bytes());
    rec.extend_from_slice(b"PK\x05\x06\x00\x00\x00\x00\xff\xff\xff\xff");
    rec.extend_from_slice(&[0xff; 8]);
    rec.extend_from_slice(&[0, 0]);
    f.write_all(&rec).expect("write");
}

#[test]
fn zip64_checkpoint_past_4_gib_is_read_through_its_directory_and_its_local_headers() {
    let dir = tempfile::tempdir().expect("tmp");
    for central in [true, false] {
        for payload in [false, true] {
            let path = dir.path().join(format!("big64_{central}_{payload}.pt"));
            write_zip64_checkpoint(&path, payload, central);
            let file = FileSource::open(&path).expect("open");
            let counting = Counting {
                inner: &file,
                read: Cell::new(0),
            };
            let rep = scan_source_with(&counting, &Location::path("big.pt"), &Policy::default());
            assert!(
                counting.read.get() < 4 << 20,
                "read {} bytes of a {} byte file",
                counting.read.get(),
                file.len()
            );
            let rules: Vec<&str> = rep.findings.iter().map(|f| f.rule_id.as_str()).collect();
            let mut want = Vec::new();
            if !central {
                want.push("zip.broken-central-directory");
            }
            if payload {
                want.push("pickle.dangerous-call");
            }
            assert_eq!(rules, want, "central {central}: {:?}", rep.findings);
            if payload {
                let f = rep.findings.last().expect("finding");
                assert_eq!(f.detail.as_deref(), Some("os.system(\"id\")"));
                assert_eq!(f.locations[0].path, "big.pt!archive/data.pkl");
            }
            if central {
                assert!(rep.warnings.is_empty(), "{:?}", rep.warnings);
            }
        }
    }
}

/// A pickle file over the 16 MiB analysed first: a 20 MiB bytes value, then a chained pickle
/// with the payload. The first 16 MiB end inside the bytes, so the whole file is analysed.
#[test]
fn payload_after_the_first_16_mib_of_a_pickle_is_found() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("big.pkl");
    let n: u32 = 20 << 20;
    let mut p = b"\x80\x03B".to_vec();
    p.extend_from_slice(&n.to_le_bytes());
    p.resize(p.len() + n as usize, 0);
    p.push(b'.');
    p.extend_from_slice(b"\x80\x02cos\nsystem\n");
    p.extend(short_unicode("id"));
    p.extend_from_slice(b"\x85R.");
    std::fs::write(&path, &p).expect("write");
    let rep = lantern_models::scan_path(&path, &Location::path("big.pkl"), &Policy::default());
    assert_eq!(rep.findings.len(), 1, "{:?}", rep.findings);
    assert_eq!(rep.findings[0].severity, Severity::Critical);
    assert_eq!(rep.findings[0].detail.as_deref(), Some("os.system(\"id\")"));
}

//! Archive expansion on fixtures built in memory: nested paths, npm tarballs, wheels, docker
//! images, bombs, limits, truncation and encryption.

#![allow(clippy::unwrap_used)]

mod common;

use common::{gzip, noise, tar, zip, zip_stored, Collect};
use lantern_core::Location;
use lantern_walk::{expand_bytes, BlobKind, WalkOptions};

fn expand(name: &str, data: &[u8], opts: &WalkOptions) -> Collect {
    let c = Collect::default();
    expand_bytes(&Location::path(name), data, opts, &c);
    c
}

#[test]
fn nested_zip_tgz_member_path() {
    let inner = gzip(&tar(&[("package/a.js", b"console.log(1)\n")]), None);
    let outer = zip(&[("inner.tgz", &inner), ("readme.txt", b"hi")]);
    let c = expand("outer.zip", &outer, &WalkOptions::default());
    assert_eq!(
        c.paths(),
        vec![
            "outer.zip!inner.tgz",
            "outer.zip!inner.tgz!package/a.js",
            "outer.zip!readme.txt"
        ]
    );
    let a = c.blob("outer.zip!inner.tgz!package/a.js");
    assert_eq!(a.data, b"console.log(1)\n");
    assert_eq!(a.kind, BlobKind::ArchiveMember);
    assert!(a.disk_path.is_none() && !a.partial);
    let t = c.blob("outer.zip!inner.tgz");
    assert_eq!(t.kind, BlobKind::Archive);
    assert_eq!(t.data, inner);
    assert!(c.warnings().is_empty(), "{:?}", c.warnings());
}

#[test]
fn npm_tgz_source_map() {
    let map = br#"{"version":3,"sources":["../src/cli.ts"],"sourcesContent":["const k = 1"]}"#;
    let tgz = gzip(
        &tar(&[
            ("package/package.json", b"{\"name\":\"x\"}"),
            ("package/dist/cli.js.map", map),
        ]),
        Some("pkg.tar"),
    );
    let c = expand("pkg.tgz", &tgz, &WalkOptions::default());
    assert_eq!(
        c.paths(),
        vec![
            "pkg.tgz!package/dist/cli.js.map",
            "pkg.tgz!package/package.json"
        ]
    );
    assert_eq!(c.blob("pkg.tgz!package/dist/cli.js.map").data, map);
}

#[test]
fn wheel_with_env_file() {
    let whl = zip(&[
        ("demo/__init__.py", b""),
        ("demo/.env", b"OPENAI_API_KEY=sk-proj-abc\n"),
        ("demo-1.0.dist-info/RECORD", b"demo/__init__.py,,\n"),
    ]);
    let c = expand(
        "dist/demo-1.0-py3-none-any.whl",
        &whl,
        &WalkOptions::default(),
    );
    let env = c.blob("dist/demo-1.0-py3-none-any.whl!demo/.env");
    assert_eq!(env.data, b"OPENAI_API_KEY=sk-proj-abc\n");
    assert_eq!(env.size, 27);
    assert_eq!(c.paths().len(), 3);
}

#[test]
fn plain_gzip_of_one_file() {
    let gz = gzip(b"password=hunter2\n", None);
    let c = expand("logs/app.log.gz", &gz, &WalkOptions::default());
    assert_eq!(c.paths(), vec!["logs/app.log.gz!app.log"]);
    assert_eq!(
        c.blob("logs/app.log.gz!app.log").data,
        b"password=hunter2\n"
    );
    // The name stored in the header wins.
    let gz = gzip(b"x", Some("original.txt"));
    let c = expand("renamed.gz", &gz, &WalkOptions::default());
    assert_eq!(c.paths(), vec!["renamed.gz!original.txt"]);
}

#[test]
fn docker_save_image_layers() {
    let layer1 = tar(&[("app/.env", b"AWS_SECRET_ACCESS_KEY=abc\n")]);
    let layer2 = gzip(&tar(&[("etc/app.conf", b"token=1\n")]), None);
    let manifest = br#"[{"Config":"cfg.json","RepoTags":["x:1"],"Layers":["aaa/layer.tar","blobs/sha256/bbb"]}]"#;
    let image = tar(&[
        ("manifest.json", manifest),
        ("aaa/layer.tar", &layer1),
        ("blobs/sha256/bbb", &layer2),
    ]);
    let c = expand("image.tar", &image, &WalkOptions::default());
    assert_eq!(
        c.blob("image.tar!aaa/layer.tar!app/.env").data,
        b"AWS_SECRET_ACCESS_KEY=abc\n"
    );
    assert_eq!(
        c.blob("image.tar!blobs/sha256/bbb!etc/app.conf").data,
        b"token=1\n"
    );
    assert_eq!(c.blob("image.tar!aaa/layer.tar").kind, BlobKind::Archive);
}

#[test]
fn big_layer_is_streamed_not_buffered() {
    // A layer bigger than max_file_size is still expanded, as a stream.
    let big = noise(300_000, 7);
    let layer = tar(&[("opt/model.bin", &big), ("opt/.env", b"KEY=v\n")]);
    let image = tar(&[("l/layer.tar", &layer)]);
    let opts = WalkOptions {
        max_file_size: 100_000,
        ..Default::default()
    };
    let c = expand("image.tar", &image, &opts);
    assert_eq!(c.blob("image.tar!l/layer.tar!opt/.env").data, b"KEY=v\n");
    let bin = c.blob("image.tar!l/layer.tar!opt/model.bin");
    assert!(bin.partial);
    assert_eq!(bin.size, 300_000);
    assert_eq!(bin.data, &big[..65536]);
    let l = c.blob("image.tar!l/layer.tar");
    assert!(l.partial);
    assert_eq!(l.kind, BlobKind::Archive);
    assert_eq!(l.size, layer.len() as u64);
    assert!(c.warnings().is_empty(), "{:?}", c.warnings());
}

/// A zip whose first entry is `mib` MiB of zero bytes, deflated, followed by a small entry.
/// The deflate stream is built from sync-flushed chunks: after the first MiB, the chunk that
/// encodes one more MiB of zeros only refers back to zeros, so it can be repeated; the CRC is
/// combined the same way. The test never holds or compresses the uncompressed data.
fn zero_bomb(mib: u64) -> Vec<u8> {
    use flate2::{Compress, Compression, FlushCompress};
    let zeros = vec![0u8; 1 << 20];
    let mut c = Compress::new(Compression::best(), false);
    let mut chunk = |input: &[u8], flush| {
        let mut out: Vec<u8> = Vec::with_capacity(64 << 10);
        let start = c.total_in();
        loop {
            let pos = (c.total_in() - start) as usize;
            c.compress_vec(&input[pos..], &mut out, flush).unwrap();
            let consumed = (c.total_in() - start) as usize;
            // Done when all input is in and the output buffer was not filled up.
            if consumed >= input.len() && out.len() < out.capacity() {
                break;
            }
            out.reserve(64 << 10);
        }
        out
    };
    let first = chunk(&zeros, FlushCompress::Sync);
    let repeat = chunk(&zeros, FlushCompress::Sync);
    let last = chunk(&[], FlushCompress::Finish);
    let mut data = first;
    for _ in 1..mib {
        data.extend_from_slice(&repeat);
    }
    data.extend_from_slice(&last);
    let mut one = crc32fast::Hasher::new();
    one.update(&zeros);
    let one = one.finalize();
    let mut crc = crc32fast::Hasher::new_with_initial_len(one, 1 << 20);
    for _ in 1..mib {
        crc.combine(&crc32fast::Hasher::new_with_initial_len(one, 1 << 20));
    }
    raw_zip(&[
        ("zeros.bin", 8, crc.finalize(), mib << 20, &data),
        (
            "after.txt",
            0,
            crc32fast::hash(b"still scanned"),
            13,
            b"still scanned",
        ),
    ])
}

/// A zip written by hand: `(name, method, crc32, uncompressed size, stored bytes)` per entry.
fn raw_zip(entries: &[(&str, u16, u32, u64, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, method, crc, size, data) in entries {
        let offset = out.len() as u32;
        let mut fixed = Vec::new();
        fixed.extend_from_slice(&20u16.to_le_bytes()); // version needed
        fixed.extend_from_slice(&0u16.to_le_bytes()); // flags
        fixed.extend_from_slice(&method.to_le_bytes());
        fixed.extend_from_slice(&0u32.to_le_bytes()); // time, date
        fixed.extend_from_slice(&crc.to_le_bytes());
        fixed.extend_from_slice(&(data.len() as u32).to_le_bytes());
        fixed.extend_from_slice(&(*size as u32).to_le_bytes());
        fixed.extend_from_slice(&(name.len() as u16).to_le_bytes());
        fixed.extend_from_slice(&0u16.to_le_bytes()); // extra length
        out.extend_from_slice(b"PK\x03\x04");
        out.extend_from_slice(&fixed);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);
        central.extend_from_slice(b"PK\x01\x02");
        central.extend_from_slice(&20u16.to_le_bytes()); // version made by
        central.extend_from_slice(&fixed);
        central.extend_from_slice(&[0u8; 8]); // comment len, disk, internal attrs, external attrs (part)
        central.extend_from_slice(&[0u8; 2]);
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let cd_offset = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(b"PK\x05\x06");
    out.extend_from_slice(&[0u8; 4]); // disk numbers
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

#[test]
fn zero_bomb_fixture_is_a_valid_zip() {
    // The hand-built deflate stream really decompresses to the zeros it claims (small size).
    let z = zero_bomb(3);
    let mut za = zip::ZipArchive::new(std::io::Cursor::new(z)).unwrap();
    let mut f = za.by_name("zeros.bin").unwrap();
    let mut n = 0u64;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let k = std::io::Read::read(&mut f, &mut buf).unwrap();
        if k == 0 {
            break;
        }
        assert!(buf[..k].iter().all(|&b| b == 0));
        n += k as u64;
    }
    assert_eq!(n, 3 << 20);
}

#[test]
fn zip_bomb_200mb_of_zeros_is_a_warning() {
    let bomb = zero_bomb(200);
    assert!(
        bomb.len() < 1 << 20,
        "fixture is compressed: {}",
        bomb.len()
    );
    // Declared larger than max_file_size: only the head is decompressed, never the rest.
    let c = expand("bomb.zip", &bomb, &WalkOptions::default());
    assert!(c.warnings().is_empty(), "{:?}", c.warnings());
    let head = c.blob("bomb.zip!zeros.bin");
    assert!(head.partial);
    assert_eq!(head.size, 200 << 20);
    assert_eq!(head.data.len(), lantern_walk::PARTIAL_HEAD);
    // Read in full when the limit allows it: the ratio trips.
    let opts = WalkOptions {
        max_file_size: 1 << 30,
        ..WalkOptions::default()
    };
    let c = expand("bomb.zip", &bomb, &opts);
    assert!(
        c.warned(
            "bomb.zip!zeros.bin",
            "zip bomb: entry expands beyond ratio 100"
        ),
        "{:?}",
        c.warnings()
    );
    // Expansion stopped early: the ratio tripped long before the 200 MiB were produced.
    let w = c.warnings();
    let produced: u64 = w[0]
        .message
        .split(" (")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(produced < 40 << 20, "stopped after {produced} bytes");
    // The bomb entry is not delivered; the next entry still is.
    assert_eq!(c.paths(), vec!["bomb.zip!after.txt"]);
    assert_eq!(c.blob("bomb.zip!after.txt").data, b"still scanned");
}

#[test]
fn gzip_ratio_bomb_is_a_warning() {
    let gz = gzip(&vec![0u8; 40 << 20], None);
    let c = expand("zeros.gz", &gz, &WalkOptions::default());
    assert_eq!(c.warnings().len(), 1, "{:?}", c.warnings());
    assert!(c.warned("zeros.gz", "zip bomb"), "{:?}", c.warnings());
    assert!(c.paths().is_empty());
}

#[test]
fn total_bytes_limit_stops_expansion() {
    let parts: Vec<Vec<u8>> = (0..6).map(|i| noise(1 << 20, i + 1)).collect();
    let names: Vec<String> = (0..6).map(|i| format!("part{i}.bin")).collect();
    let entries: Vec<(&str, &[u8])> = names
        .iter()
        .zip(&parts)
        .map(|(n, p)| (n.as_str(), p.as_slice()))
        .collect();
    let z = zip_stored(&entries);
    let opts = WalkOptions {
        max_archive_bytes: 3 << 20,
        ..Default::default()
    };
    let c = expand("big.zip", &z, &opts);
    assert_eq!(c.warnings().len(), 1, "{:?}", c.warnings());
    assert!(c.warned(
        "big.zip!part3.bin",
        "archive expands beyond 3145728 bytes in total"
    ));
    assert_eq!(
        c.paths(),
        vec![
            "big.zip!part0.bin",
            "big.zip!part1.bin",
            "big.zip!part2.bin"
        ]
    );
}

#[test]
fn too_many_entries() {
    let names: Vec<String> = (0..20).map(|i| format!("f{i:02}.txt")).collect();
    let entries: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"x"[..])).collect();
    let z = zip(&entries);
    let opts = WalkOptions {
        max_archive_entries: 10,
        ..Default::default()
    };
    let c = expand("many.zip", &z, &opts);
    assert_eq!(c.paths().len(), 10);
    assert!(c.warned("many.zip!f10.txt", "archive has more than 10 entries"));
}

#[test]
fn depth_limit() {
    let l3 = zip(&[("deep.txt", b"deep")]);
    let l2 = zip(&[("l3.zip", &l3)]);
    let l1 = zip(&[("l2.zip", &l2)]);
    let opts = WalkOptions {
        max_archive_depth: 2,
        ..Default::default()
    };
    let c = expand("l1.zip", &l1, &opts);
    assert_eq!(c.paths(), vec!["l1.zip!l2.zip", "l1.zip!l2.zip!l3.zip"]);
    assert!(c.warned(
        "l1.zip!l2.zip!l3.zip",
        "archive nested deeper than 2 levels"
    ));
    // The default depth reaches it.
    let c = expand("l1.zip", &l1, &WalkOptions::default());
    assert_eq!(c.blob("l1.zip!l2.zip!l3.zip!deep.txt").data, b"deep");
}

#[test]
fn expansion_off_delivers_nothing() {
    let z = zip(&[("a.txt", b"a")]);
    let opts = WalkOptions {
        expand_archives: false,
        ..Default::default()
    };
    assert!(expand("x.zip", &z, &opts).paths().is_empty());
}

#[test]
fn truncated_zip_reads_local_headers() {
    let first = noise(5000, 3);
    let z = zip_stored(&[("a.txt", b"alpha"), ("b.bin", &first), ("c.txt", b"gamma")]);
    // Cut inside b.bin: no central directory, a.txt complete, b.bin partly there.
    let cut = &z[..z.len() / 2];
    let c = expand("cut.zip", cut, &WalkOptions::default());
    assert!(
        c.warned("cut.zip", "truncated or corrupt zip"),
        "{:?}",
        c.warnings()
    );
    assert_eq!(c.blob("cut.zip!a.txt").data, b"alpha");
    let b = c.blob("cut.zip!b.bin");
    assert!(b.partial);
    assert!(!b.data.is_empty() && first.starts_with(&b.data));
    assert!(
        c.warned("cut.zip!b.bin", "truncated or corrupt zip entry"),
        "{:?}",
        c.warnings()
    );
}

#[test]
fn truncated_tar_and_gzip() {
    let body = noise(3000, 5);
    let t = tar(&[("a.txt", b"alpha"), ("b.bin", &body)]);
    let cut = &t[..512 + 512 + 512 + 1000];
    let c = expand("cut.tar", cut, &WalkOptions::default());
    assert_eq!(c.blob("cut.tar!a.txt").data, b"alpha");
    let b = c.blob("cut.tar!b.bin");
    assert!(b.partial);
    assert_eq!(b.data, &body[..1000]);
    assert!(
        c.warned("cut.tar!b.bin", "truncated or corrupt tar entry"),
        "{:?}",
        c.warnings()
    );

    let text: Vec<u8> = (0..50_000u32)
        .flat_map(|i| format!("line {i}\n").into_bytes())
        .collect();
    let gz = gzip(&text, None);
    let c = expand("log.gz", &gz[..gz.len() / 2], &WalkOptions::default());
    assert!(
        c.warned("log.gz!log", "truncated or corrupt gzip"),
        "{:?}",
        c.warnings()
    );
    let b = c.blob("log.gz!log");
    assert!(b.partial && text.starts_with(&b.data) && !b.data.is_empty());
}

#[test]
fn encrypted_entry_is_skipped_with_a_warning() {
    let mut z = zip_stored(&[("secret.txt", b"x"), ("plain.txt", b"y")]);
    // Set the "encrypted" flag (bit 0 of the general purpose flags) of the first entry in its
    // local header (offset 6) and central directory header (offset 8).
    let local = find(&z, b"PK\x03\x04");
    z[local + 6] |= 1;
    let central = find(&z, b"PK\x01\x02");
    z[central + 8] |= 1;
    let c = expand("enc.zip", &z, &WalkOptions::default());
    assert!(c.warned("enc.zip!secret.txt", "encrypted zip entry: skipped"));
    assert_eq!(c.paths(), vec!["enc.zip!plain.txt"]);
}

#[test]
fn unsupported_method_is_a_warning() {
    // Method 12 (bzip2) is not built in: the entry is named in a warning, the rest is read.
    let z = raw_zip(&[
        ("a.bz2data", 12, 0, 4, b"BZh9"),
        ("b.txt", 0, crc32fast::hash(b"ok"), 2, b"ok"),
    ]);
    let c = expand("m.zip", &z, &WalkOptions::default());
    assert!(
        c.warned("m.zip!a.bz2data", "cannot read zip entry"),
        "{:?}",
        c.warnings()
    );
    assert_eq!(c.paths(), vec!["m.zip!b.txt"]);
}

fn find(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).position(|w| w == needle).unwrap()
}

#[test]
fn notebook_inside_archive_is_split() {
    let nb = br#"{"nbformat":4,"nbformat_minor":5,"metadata":{},"cells":[
      {"cell_type":"code","metadata":{},"source":"x = 1","outputs":[]}]}"#;
    let z = zip(&[("nb/a.ipynb", nb)]);
    let c = expand("x.zip", &z, &WalkOptions::default());
    let b = c.blob("x.zip!nb/a.ipynb");
    assert_eq!(b.kind, BlobKind::NotebookCell);
    assert_eq!(b.location.cell, Some(0));
    assert_eq!(b.location.cell_part.as_deref(), Some("source"));
    assert_eq!(b.data, b"x = 1");
}

#[test]
fn garbage_after_magic_is_a_warning_not_a_panic() {
    let mut junk = b"PK\x03\x04".to_vec();
    junk.extend(noise(200, 9));
    let c = expand("junk.zip", &junk, &WalkOptions::default());
    assert!(
        c.warned("junk.zip", "truncated or corrupt zip"),
        "{:?}",
        c.warnings()
    );
    let mut junk = vec![0x1f, 0x8b, 0x08];
    junk.extend(noise(200, 9));
    let c = expand("junk.gz", &junk, &WalkOptions::default());
    assert!(
        c.warned("junk.gz", "truncated or corrupt gzip"),
        "{:?}",
        c.warnings()
    );
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn expand_bytes_never_panics(data in proptest::collection::vec(any::<u8>(), 0..4096)) {
            let c = Collect::default();
            expand_bytes(&Location::path("x"), &data, &WalkOptions::default(), &c);
            expand_bytes(&Location::path("x.ipynb"), &data, &WalkOptions::default(), &c);
        }

        #[test]
        fn mutated_archives_never_panic(
            pos in any::<prop::sample::Index>(),
            byte in any::<u8>(),
            cut in any::<prop::sample::Index>(),
        ) {
            let inner = gzip(&tar(&[("package/a.js", b"console.log(1)\n")]), None);
            let mut z = zip(&[("inner.tgz", &inner), ("b.txt", b"hello")]);
            let i = pos.index(z.len());
            z[i] = byte;
            let end = cut.index(z.len() + 1);
            let c = Collect::default();
            expand_bytes(&Location::path("m.zip"), &z[..end], &WalkOptions::default(), &c);
        }
    }
}

//! The canonical record form (module comment of `lantern_data::record`): the same records
//! give the same Merkle root whether they come as CSV, TSV, JSON Lines (plain or gzip),
//! Parquet or a folder; types count (a Parquet int64 is a number, a CSV cell a string); and
//! any single-byte change to the input changes the root unless it only touches what carries
//! no data (line terminators, whitespace between JSON tokens).

#![allow(clippy::unwrap_used)]

use lantern_data::manifest::{build_manifest, ManifestOptions};
use lantern_data::merkle::MerkleBuilder;
use lantern_data::record::{read_reader, DatasetKind, ReadOptions};
use proptest::prelude::*;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

fn root(path: &Path) -> String {
    build_manifest(path, &ManifestOptions::default())
        .unwrap()
        .merkle_root
}

/// Rows of (id, text, label), all strings, with characters every format must carry exactly.
const ROWS: [[&str; 3]; 3] = [
    ["1", "good film", "pos"],
    ["2", "bad, \"quoted\"\nsecond line", "neg"],
    ["3", "caf\u{e9} \u{2615}\ttab", "pos"],
];

fn csv(delim: char) -> String {
    let mut s = format!("id{delim}text{delim}label\n");
    for r in ROWS {
        let cells: Vec<String> = r
            .iter()
            .map(|c| format!("\"{}\"", c.replace('"', "\"\"")))
            .collect();
        s.push_str(&cells.join(&delim.to_string()));
        s.push_str("\r\n");
    }
    s
}

fn jsonl() -> String {
    ROWS.iter()
        .map(|r| {
            // Field order and whitespace differ from the other formats on purpose.
            format!(
                "{{ \"label\": {}, \"text\": {}, \"id\": {} }}\n",
                serde_json::to_string(r[2]).unwrap(),
                serde_json::to_string(r[1]).unwrap(),
                serde_json::to_string(r[0]).unwrap()
            )
        })
        .collect()
}

/// A Parquet file with the given schema, one row group, columns written by `write`.
fn parquet(
    schema: &str,
    write: impl Fn(usize, &mut parquet::column::writer::ColumnWriter),
) -> Vec<u8> {
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    let schema = Arc::new(parquet::schema::parser::parse_message_type(schema).unwrap());
    let mut out = Vec::new();
    let mut w = SerializedFileWriter::new(
        &mut out,
        schema,
        Arc::new(WriterProperties::builder().build()),
    )
    .unwrap();
    let mut rg = w.next_row_group().unwrap();
    let mut col = 0;
    while let Some(mut c) = rg.next_column().unwrap() {
        write(col, c.untyped());
        c.close().unwrap();
        col += 1;
    }
    rg.close().unwrap();
    w.close().unwrap();
    out
}

fn string_parquet() -> Vec<u8> {
    use parquet::column::writer::ColumnWriter;
    use parquet::data_type::ByteArray;
    parquet(
        "message m { required binary id (UTF8); required binary text (UTF8); required binary label (UTF8); }",
        |col, w| {
            let v: Vec<ByteArray> = ROWS.iter().map(|r| ByteArray::from(r[col])).collect();
            if let ColumnWriter::ByteArrayColumnWriter(w) = w {
                w.write_batch(&v, None, None).unwrap();
            }
        },
    )
}

#[test]
fn the_same_records_give_the_same_root_in_every_format() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    std::fs::write(p.join("a.csv"), csv(',')).unwrap();
    std::fs::write(p.join("a.tsv"), csv('\t')).unwrap();
    std::fs::write(p.join("a.jsonl"), jsonl()).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(jsonl().as_bytes()).unwrap();
    std::fs::write(p.join("a.jsonl.gz"), gz.finish().unwrap()).unwrap();
    std::fs::write(p.join("a.parquet"), string_parquet()).unwrap();
    let want = root(&p.join("a.csv"));
    for name in ["a.tsv", "a.jsonl", "a.jsonl.gz", "a.parquet"] {
        assert_eq!(root(&p.join(name)), want, "{name}");
    }
    // A different value anywhere changes it.
    std::fs::write(
        p.join("b.jsonl"),
        jsonl().replace("good film", "good film "),
    )
    .unwrap();
    assert_ne!(root(&p.join("b.jsonl")), want);
}

#[test]
fn types_count_a_parquet_int64_is_a_json_number_not_a_csv_string() {
    use parquet::column::writer::ColumnWriter;
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let pq = parquet(
        "message m { required int64 id; required double score; }",
        |col, w| match w {
            ColumnWriter::Int64ColumnWriter(w) if col == 0 => {
                w.write_batch(&[50, 12], None, None).unwrap();
            }
            ColumnWriter::DoubleColumnWriter(w) => {
                w.write_batch(&[0.5, 1.0], None, None).unwrap();
            }
            _ => panic!("unexpected column"),
        },
    );
    std::fs::write(p.join("t.parquet"), pq).unwrap();
    std::fs::write(
        p.join("t.jsonl"),
        "{\"id\":50,\"score\":0.5}\n{\"score\":1.0,\"id\":12}\n",
    )
    .unwrap();
    std::fs::write(p.join("t.csv"), "id,score\n50,0.5\n12,1.0\n").unwrap();
    let pq_root = root(&p.join("t.parquet"));
    assert_eq!(pq_root, root(&p.join("t.jsonl")));
    assert_ne!(pq_root, root(&p.join("t.csv")), "CSV cells are strings");
}

#[test]
fn a_folder_is_the_records_of_its_files() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("f");
    std::fs::create_dir_all(f.join("pos")).unwrap();
    std::fs::write(f.join("pos/a.txt"), "good film").unwrap();
    std::fs::write(f.join("top.bin"), b"\0\x01").unwrap();
    let sha = |b: &[u8]| {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(b))
    };
    let j = format!(
        "{{\"path\":\"pos/a.txt\",\"sha256\":\"{}\",\"bytes\":9,\"label\":\"pos\",\"text\":\"good film\"}}\n{{\"path\":\"top.bin\",\"sha256\":\"{}\",\"bytes\":2}}\n",
        sha(b"good film"),
        sha(b"\0\x01")
    );
    std::fs::write(d.path().join("f.jsonl"), j).unwrap();
    assert_eq!(root(&f), root(&d.path().join("f.jsonl")));
}

/// The root of `bytes` read as `kind`, `None` when the input is refused (an error, exit 2).
fn root_of(kind: DatasetKind, bytes: &[u8]) -> Option<[u8; 32]> {
    let mut m = MerkleBuilder::new();
    read_reader("t", kind, bytes, &ReadOptions::default(), &mut |r| {
        m.push(&r.digest());
        Ok(())
    })
    .ok()?;
    Some(m.root())
}

fn dataset(kind: DatasetKind, rows: &[(String, u8)]) -> Vec<u8> {
    let mut s = String::new();
    if kind == DatasetKind::Csv {
        s.push_str("text,label\n");
    }
    for (t, l) in rows {
        match kind {
            DatasetKind::Csv => {
                s.push_str(&format!("\"{}\",{l}\n", t.replace('"', "\"\"")));
            }
            _ => s.push_str(&format!(
                "{{\"text\": {}, \"label\": {l}}}\n",
                serde_json::to_string(t).unwrap()
            )),
        }
    }
    s.into_bytes()
}

/// Bytes a mutation writes: structure, whitespace, escapes, letters, digits, non-UTF-8.
const BYTES: &[u8] = b" \t\r\n,\"\\{}:[]a0\xff\xc3";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Any single-byte substitution, insertion or deletion changes the root, unless the bytes
    /// involved are all line terminators (CSV) or JSON whitespace (JSON Lines).
    #[test]
    fn any_single_byte_change_changes_the_root(
        rows in prop::collection::vec(("[a-z ,\"\n\u{e9}]{0,12}", 0u8..3), 1..5),
        json in any::<bool>(),
        at in any::<prop::sample::Index>(),
        op in 0u8..3,
        b in prop::sample::select(BYTES),
    ) {
        let kind = if json { DatasetKind::Jsonl } else { DatasetKind::Csv };
        let data = dataset(kind, &rows);
        let i = at.index(data.len());
        let mut changed = data.clone();
        let touched: Vec<u8> = match op {
            0 => {
                prop_assume!(changed[i] != b);
                let old = changed[i];
                changed[i] = b;
                vec![old, b]
            }
            1 => {
                changed.insert(i, b);
                vec![b]
            }
            _ => vec![changed.remove(i)],
        };
        let before = root_of(kind, &data);
        prop_assert!(before.is_some());
        if root_of(kind, &changed) == before {
            let quiet: &[u8] = if json { b" \t\r\n" } else { b"\r\n" };
            prop_assert!(
                touched.iter().all(|c| quiet.contains(c)),
                "root unchanged by {:?} at {}: {:?} -> {:?}",
                touched,
                i,
                String::from_utf8_lossy(&data),
                String::from_utf8_lossy(&changed)
            );
        }
    }
}

//! Fuzz the Parquet reader. Odd first byte: a well-formed file is written with the parquet
//! writer from the input (rows, nulls, lists, compression, dictionary, writer version), read
//! back and checked row for row, then corrupted at input-chosen offsets and read again. Even
//! first byte: the rest is read as a Parquet file as is.
#![no_main]

use lantern_data::record::{read_reader, DatasetKind, ReadOptions, Record};
use libfuzzer_sys::fuzz_target;
use parquet::basic::{Compression, GzipLevel, ZstdLevel};
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, DoubleType, Int32Type, Int64Type};
use parquet::file::properties::{WriterProperties, WriterVersion};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use std::sync::Arc;

const SCHEMA: &str = "message m {
  required int64 id;
  optional binary text (UTF8);
  optional double score;
  optional boolean flag;
  repeated int32 nums;
}";

struct Row {
    id: i64,
    text: Option<String>,
    score: Option<f64>,
    flag: Option<bool>,
    nums: Vec<i32>,
}

/// Bytes consumed one at a time, zero once exhausted.
struct Src<'a>(&'a [u8]);
impl Src<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }
    fn take(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.0.len());
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        a
    }
}

fn rows(src: &mut Src) -> Vec<Row> {
    let n = usize::from(src.byte() % 24);
    (0..n)
        .map(|i| {
            let mask = src.byte();
            let len = usize::from(src.byte() % 40);
            let text = (mask & 1 != 0).then(|| String::from_utf8_lossy(src.take(len)).into_owned());
            let score = (mask & 2 != 0).then(|| f64::from(src.byte()) / 7.0);
            let flag = (mask & 4 != 0).then_some(mask & 8 != 0);
            let nums = (0..usize::from(mask >> 5)).map(|k| i32::from(src.byte()) - k as i32).collect();
            Row { id: i as i64 * 3 - 7, text, score, flag, nums }
        })
        .collect()
}

fn write(rows: &[Row], mode: u8) -> parquet::errors::Result<Vec<u8>> {
    let compression = match mode % 4 {
        0 => Compression::UNCOMPRESSED,
        1 => Compression::SNAPPY,
        2 => Compression::GZIP(GzipLevel::default()),
        _ => Compression::ZSTD(ZstdLevel::default()),
    };
    let props = WriterProperties::builder()
        .set_compression(compression)
        .set_dictionary_enabled(mode & 4 != 0)
        .set_writer_version(if mode & 8 != 0 { WriterVersion::PARQUET_2_0 } else { WriterVersion::PARQUET_1_0 })
        .set_data_page_row_count_limit(3)
        .set_write_batch_size(2)
        .build();
    let schema = Arc::new(parse_message_type(SCHEMA)?);
    let mut out = Vec::new();
    let mut w = SerializedFileWriter::new(&mut out, schema, Arc::new(props))?;
    let half = rows.len() / 2;
    for group in [&rows[..half], &rows[half..]] {
        if group.is_empty() {
            continue;
        }
        let mut rg = w.next_row_group()?;
        let mut col = 0;
        while let Some(mut c) = rg.next_column()? {
            match col {
                0 => {
                    let v: Vec<i64> = group.iter().map(|r| r.id).collect();
                    c.typed::<Int64Type>().write_batch(&v, None, None)?;
                }
                1 => {
                    let v: Vec<ByteArray> =
                        group.iter().filter_map(|r| r.text.as_deref()).map(ByteArray::from).collect();
                    let d: Vec<i16> = group.iter().map(|r| i16::from(r.text.is_some())).collect();
                    c.typed::<ByteArrayType>().write_batch(&v, Some(&d), None)?;
                }
                2 => {
                    let v: Vec<f64> = group.iter().filter_map(|r| r.score).collect();
                    let d: Vec<i16> = group.iter().map(|r| i16::from(r.score.is_some())).collect();
                    c.typed::<DoubleType>().write_batch(&v, Some(&d), None)?;
                }
                3 => {
                    let v: Vec<bool> = group.iter().filter_map(|r| r.flag).collect();
                    let d: Vec<i16> = group.iter().map(|r| i16::from(r.flag.is_some())).collect();
                    c.typed::<BoolType>().write_batch(&v, Some(&d), None)?;
                }
                _ => {
                    let (mut v, mut d, mut r) = (Vec::new(), Vec::new(), Vec::new());
                    for row in group {
                        if row.nums.is_empty() {
                            d.push(0);
                            r.push(0);
                        }
                        for (k, &x) in row.nums.iter().enumerate() {
                            v.push(x);
                            d.push(1);
                            r.push(i16::from(k > 0));
                        }
                    }
                    c.typed::<Int32Type>().write_batch(&v, Some(&d), Some(&r))?;
                }
            }
            c.close()?;
            col += 1;
        }
        rg.close()?;
    }
    w.close()?;
    Ok(out)
}

fn read(bytes: &[u8]) -> (Vec<Record>, Option<lantern_data::record::ReadSummary>) {
    // LANTERN_FUZZ_DUMP=FILE saves the file read (to turn a crash into a regression test).
    if let Ok(path) = std::env::var("LANTERN_FUZZ_DUMP") {
        let _ = std::fs::write(path, bytes);
    }
    let opts = ReadOptions {
        kind: Some(DatasetKind::Parquet),
        max_record_bytes: 4096,
        ..ReadOptions::default()
    };
    let mut got = Vec::new();
    let mut last = 0;
    let res = read_reader("fuzz.parquet", DatasetKind::Parquet, bytes, &opts, &mut |r| {
        assert!(r.line > last, "row numbers go backwards");
        last = r.line;
        let _ = r.digest();
        got.push(r);
        Ok(())
    });
    let s = res.ok();
    if let Some(s) = &s {
        assert_eq!(s.records, got.len() as u64);
    }
    (got, s)
}

/// Panics raised inside calls into the parquet crate (and the crates it calls) are caught at
/// lantern-data's boundary and reported as unreadable data; only those are silenced. Any
/// other panic aborts as usual.
fn quiet_parquet_panics() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if lantern_data::record::in_guarded_parquet_call() {
            return;
        }
        default_hook(info);
        std::process::abort();
    }));
}

fuzz_target!(init: quiet_parquet_panics(), |data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        let _ = read(rest);
        return;
    }
    let mut src = Src(rest);
    let rows = rows(&mut src);
    let Ok(mut bytes) = write(&rows, mode >> 1) else {
        return;
    };
    // The well-formed file reads back exactly.
    let (got, s) = read(&bytes);
    let s = s.expect("a file written by the parquet writer is readable");
    assert_eq!(s.bad_records, 0);
    assert_eq!(got.len(), rows.len());
    for (r, want) in got.iter().zip(&rows) {
        assert_eq!(r.get("id").map(|f| f.value.as_str()), Some(want.id.to_string().as_str()));
        match &want.text {
            Some(t) => assert_eq!(r.get("text").map(|f| f.value.as_str()), Some(t.as_str())),
            None => assert!(r.get("text").is_none_or(|f| !f.is_string)),
        }
    }
    // Then corrupted: up to 8 (offset, xor) edits from the rest of the input.
    if bytes.is_empty() {
        return;
    }
    let mut edited = false;
    for _ in 0..8 {
        let (hi, lo, x) = (src.byte(), src.byte(), src.byte());
        if x == 0 {
            break;
        }
        let off = (usize::from(hi) << 8 | usize::from(lo)) % bytes.len();
        if let Some(b) = bytes.get_mut(off) {
            *b ^= x;
            edited = true;
        }
    }
    if edited {
        let _ = read(&bytes);
    }
});

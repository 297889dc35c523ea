//! Parquet reading: row groups one at a time through the parquet crate's record API, each value
//! mapped to the canonical record form (see [`crate::record`]). A file the parquet crate cannot
//! read in full is an error naming the file: its readers cannot resynchronise after a bad page,
//! so the rows after it cannot be digested.

use crate::record::{Field, Sink};
use crate::{Error, Result};

thread_local! {
    /// Depth of guarded calls into the parquet crate on this thread.
    static IN_PARQUET: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Whether this thread is inside a call into the parquet crate whose panics are caught and
/// reported as unreadable data (lets a fuzzer's panic hook tell those from real bugs).
#[doc(hidden)]
pub fn in_guarded_parquet_call() -> bool {
    IN_PARQUET.with(|c| c.get() > 0)
}

/// Installs, once, a panic hook that stays silent for panics caught by [`parquet_guard`] (no
/// message or backtrace on stderr for a malformed file) and hands the others to the hook that
/// was there before.
static QUIET_HOOK: std::sync::Once = std::sync::Once::new();

/// Run a call into the parquet crate, turning a panic into an error message. parquet-rs
/// asserts on some malformed files (found by fuzzing: e.g. a definition level above the
/// column's maximum panics in `TripletIter::current_value`); a malformed file must be a
/// reported problem, not an abort.
fn parquet_guard<T>(call: impl FnOnce() -> T) -> std::result::Result<T, String> {
    QUIET_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !in_guarded_parquet_call() {
                previous(info);
            }
        }));
    });
    IN_PARQUET.with(|c| c.set(c.get() + 1));
    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(call));
    IN_PARQUET.with(|c| c.set(c.get().saturating_sub(1)));
    res.map_err(|p| {
        let msg = p
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        format!("the parquet reader failed on malformed data: {msg}")
    })
}

/// Check every column chunk's dictionary page before the record reader sees it: parquet-rs
/// allocates the dictionary from the page header's value count without comparing it with the
/// page's bytes (found by fuzzing: a 16-byte edit made it allocate gigabytes). A plain-encoded
/// value takes at least one bit (booleans), four bytes (32-bit numbers, byte arrays' length
/// prefix), eight or twelve bytes, or the fixed length; a count the page cannot hold is
/// rejected. Data pages are skipped by their headers, not decoded.
fn check_dictionaries<R: parquet::file::reader::ChunkReader + 'static>(
    reader: &parquet::file::reader::SerializedFileReader<R>,
) -> std::result::Result<(), String> {
    use parquet::basic::Type as Physical;
    use parquet::column::page::Page;
    use parquet::file::reader::FileReader;
    let schema = reader.metadata().file_metadata().schema_descr_ptr();
    for g in 0..reader.num_row_groups() {
        let rg = reader.get_row_group(g).map_err(|e| e.to_string())?;
        for c in 0..rg.num_columns().min(schema.num_columns()) {
            let mut pages = rg.get_column_page_reader(c).map_err(|e| e.to_string())?;
            let Some(first) = pages.peek_next_page().map_err(|e| e.to_string())? else {
                continue;
            };
            if !first.is_dict {
                continue;
            }
            let Some(Page::DictionaryPage {
                buf, num_values, ..
            }) = pages.get_next_page().map_err(|e| e.to_string())?
            else {
                continue;
            };
            let col = schema.column(c);
            let bytes = buf.len() as u64;
            let fits = match col.physical_type() {
                Physical::BOOLEAN => bytes.saturating_mul(8),
                Physical::INT32 | Physical::FLOAT | Physical::BYTE_ARRAY => bytes / 4,
                Physical::INT64 | Physical::DOUBLE => bytes / 8,
                Physical::INT96 => bytes / 12,
                Physical::FIXED_LEN_BYTE_ARRAY => {
                    bytes / u64::try_from(col.type_length()).unwrap_or(1).max(1)
                }
            };
            if u64::from(num_values) > fits {
                return Err(format!(
                    "row group {g}, column {}: dictionary page claims {num_values} value(s) in {bytes} byte(s)",
                    col.path()
                ));
            }
        }
    }
    Ok(())
}

/// Read a Parquet file row by row into `sink`. A file the parquet crate cannot open, a page it
/// fails on or a row it cannot decode is an error naming the file and the row.
pub(crate) fn read_parquet<R: parquet::file::reader::ChunkReader + 'static>(
    name: &str,
    input: R,
    sink: &mut Sink,
) -> Result<()> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let unreadable = |e: String| Error::format(name, format!("not a readable parquet file: {e}"));
    let reader = parquet_guard(|| SerializedFileReader::new(input))
        .map_err(unreadable)?
        .map_err(|e| unreadable(e.to_string()))?;
    parquet_guard(|| check_dictionaries(&reader))
        .and_then(|r| r)
        .map_err(unreadable)?;
    let mut rows = parquet_guard(|| reader.get_row_iter(None))
        .map_err(unreadable)?
        .map_err(|e| unreadable(e.to_string()))?;
    let mut line = 0u64;
    loop {
        let row = match parquet_guard(|| rows.next()) {
            Ok(Some(row)) => row.map_err(|e| e.to_string()),
            Ok(None) => break,
            Err(panic) => Err(panic),
        };
        line += 1;
        let fields = row.and_then(|row| {
            parquet_guard(|| {
                row.get_column_iter()
                    .map(|(n, v)| field(n, v))
                    .collect::<Vec<Field>>()
            })
        });
        let fields = fields.map_err(|e| {
            Error::format(
                name,
                format!(
                    "row {line}: unreadable parquet row: {e} (the rows after it cannot be read)"
                ),
            )
        })?;
        sink.record(line, None, fields)?;
    }
    Ok(())
}

/// A Parquet value as a record field (canonical form: module comment of [`crate::record`]).
fn field(name: &str, v: &parquet::record::Field) -> Field {
    use parquet::record::Field as P;
    match v {
        P::Str(s) => Field::text(name, s.as_str()),
        P::Bytes(b) => Field::from_bytes(name, b.data()),
        other => {
            let mut out = String::new();
            canonical(other, &mut out, 0);
            Field::other(name, out)
        }
    }
}

/// Deepest nesting written out (deeper values are written as `@deep`; the parquet crate's
/// own schema depth limits come first).
const MAX_NESTING: u32 = 64;

/// A float in shortest round-trip form, or the bare tokens JSON lacks.
fn float(x: f64, shortest: String, out: &mut String) {
    if x.is_nan() {
        out.push_str("NaN");
    } else if x.is_infinite() {
        out.push_str(if x > 0.0 { "Infinity" } else { "-Infinity" });
    } else {
        out.push_str(&shortest);
    }
}

/// Append the canonical text of a Parquet value.
fn canonical(v: &parquet::record::Field, out: &mut String, depth: u32) {
    use parquet::record::Field as P;
    if depth > MAX_NESTING {
        out.push_str("@deep");
        return;
    }
    match v {
        P::Null => out.push_str("null"),
        P::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        P::Byte(x) => out.push_str(&x.to_string()),
        P::Short(x) => out.push_str(&x.to_string()),
        P::Int(x) => out.push_str(&x.to_string()),
        P::Long(x) => out.push_str(&x.to_string()),
        P::UByte(x) => out.push_str(&x.to_string()),
        P::UShort(x) => out.push_str(&x.to_string()),
        P::UInt(x) => out.push_str(&x.to_string()),
        P::ULong(x) => out.push_str(&x.to_string()),
        P::Float16(x) => {
            let f = f32::from(*x);
            float(
                f64::from(f),
                serde_json::to_string(&f).unwrap_or_default(),
                out,
            )
        }
        P::Float(x) => float(
            f64::from(*x),
            serde_json::to_string(x).unwrap_or_default(),
            out,
        ),
        P::Double(x) => float(*x, serde_json::to_string(x).unwrap_or_default(), out),
        P::Decimal(d) => out.push_str(&format!("@decimal({})", decimal(d))),
        P::Str(s) => crate::jsontext::escape_into(out, s),
        P::Bytes(b) => out.push_str(&format!("@bytes({})", hex::encode(b.data()))),
        P::Date(d) => out.push_str(&format!("@date({d})")),
        P::TimeMillis(t) => out.push_str(&format!("@time_ms({t})")),
        P::TimeMicros(t) => out.push_str(&format!("@time_us({t})")),
        P::TimestampMillis(t) => out.push_str(&format!("@timestamp_ms({t})")),
        P::TimestampMicros(t) => out.push_str(&format!("@timestamp_us({t})")),
        P::Group(row) => {
            let mut pairs: Vec<(&String, &parquet::record::Field)> =
                row.get_column_iter().collect();
            pairs.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (k, v)) in pairs.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                crate::jsontext::escape_into(out, k);
                out.push(':');
                canonical(v, out, depth + 1);
            }
            out.push('}');
        }
        P::ListInternal(list) => {
            out.push('[');
            for (i, v) in list.elements().iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(v, out, depth + 1);
            }
            out.push(']');
        }
        P::MapInternal(map) => {
            out.push_str("@map[");
            for (i, (k, v)) in map.entries().iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(k, out, depth + 1);
                out.push(':');
                canonical(v, out, depth + 1);
            }
            out.push(']');
        }
    }
}

/// A decimal's exact text: the unscaled integer with the point placed by the scale.
fn decimal(d: &parquet::data_type::Decimal) -> String {
    let bytes = d.data();
    let scale = usize::try_from(d.scale()).unwrap_or(0);
    if bytes.len() > 16 {
        return format!("0x{}e-{scale}", hex::encode(bytes));
    }
    let negative = bytes.first().is_some_and(|b| b & 0x80 != 0);
    let mut v: i128 = if negative { -1 } else { 0 };
    for &b in bytes {
        v = (v << 8) | i128::from(b);
    }
    let digits = v.unsigned_abs().to_string();
    let sign = if v < 0 { "-" } else { "" };
    if scale == 0 {
        return format!("{sign}{digits}");
    }
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (int, frac) = padded.split_at(padded.len() - scale);
    format!("{sign}{int}.{frac}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{read_all, read_reader, DatasetKind, ReadOptions, ReadSummary, Record};
    /// A Parquet file written with the parquet crate's writer: `id` int64, `text` optional
    /// UTF-8, `score` optional double; two row groups.
    fn write_parquet(rows: &[(i64, Option<&str>, Option<f64>)]) -> Vec<u8> {
        use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int64Type};
        use parquet::file::properties::WriterProperties;
        use parquet::file::writer::SerializedFileWriter;
        use std::sync::Arc;
        let schema = Arc::new(
            parquet::schema::parser::parse_message_type(
                "message m { required int64 id; optional binary text (UTF8); optional double score; }",
            )
            .unwrap(),
        );
        let mut out = Vec::new();
        let mut w = SerializedFileWriter::new(
            &mut out,
            schema,
            Arc::new(WriterProperties::builder().build()),
        )
        .unwrap();
        for group in rows.chunks(2) {
            let mut rg = w.next_row_group().unwrap();
            let mut col = 0;
            while let Some(mut c) = rg.next_column().unwrap() {
                match col {
                    0 => {
                        let v: Vec<i64> = group.iter().map(|r| r.0).collect();
                        c.typed::<Int64Type>().write_batch(&v, None, None).unwrap();
                    }
                    1 => {
                        let v: Vec<ByteArray> = group
                            .iter()
                            .filter_map(|r| r.1)
                            .map(ByteArray::from)
                            .collect();
                        let d: Vec<i16> = group.iter().map(|r| i16::from(r.1.is_some())).collect();
                        c.typed::<ByteArrayType>()
                            .write_batch(&v, Some(&d), None)
                            .unwrap();
                    }
                    _ => {
                        let v: Vec<f64> = group.iter().filter_map(|r| r.2).collect();
                        let d: Vec<i16> = group.iter().map(|r| i16::from(r.2.is_some())).collect();
                        c.typed::<DoubleType>()
                            .write_batch(&v, Some(&d), None)
                            .unwrap();
                    }
                }
                c.close().unwrap();
                col += 1;
            }
            rg.close().unwrap();
        }
        w.close().unwrap();
        out
    }

    fn parquet(bytes: &[u8]) -> Result<(Vec<Record>, ReadSummary)> {
        let mut out = Vec::new();
        let s = read_reader(
            "t.parquet",
            DatasetKind::Parquet,
            bytes,
            &ReadOptions::default(),
            &mut |r| {
                out.push(r);
                Ok(())
            },
        )?;
        Ok((out, s))
    }

    #[test]
    fn parquet_rows_with_nulls_across_row_groups() {
        let bytes = write_parquet(&[
            (7, Some("good film"), Some(0.5)),
            (8, None, Some(2.0)),
            (9, Some("caf\u{e9}"), None),
        ]);
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("t.parquet");
        std::fs::write(&p, &bytes).unwrap();
        let (recs, s) = read_all(&p, &ReadOptions::default()).unwrap();
        assert_eq!((s.records, s.bad_records), (3, 0));
        assert_eq!(recs[0].get("id").unwrap().value, "7");
        assert!(!recs[0].get("id").unwrap().is_string);
        assert_eq!(recs[0].get("text").unwrap().value, "good film");
        assert!(recs[0].get("text").unwrap().is_string);
        assert_eq!(recs[0].get("score").unwrap().value, "0.5");
        assert_eq!(recs[1].get("text").unwrap().value, "null");
        assert!(!recs[1].get("text").unwrap().is_string);
        assert_eq!(recs[2].get("text").unwrap().value, "caf\u{e9}");
        assert_eq!(recs[2].line, 3);
        // Same records from a stream.
        let (again, _) = parquet(&bytes).unwrap();
        assert_eq!(again, recs);
    }

    /// Fuzz regression (`fuzz/fuzz_targets/parquet.rs`): a written file with one corrupted
    /// byte in a data page made parquet-rs 53 panic in `TripletIter::current_value` ("cannot
    /// extract value, max definition level: 1, current level: 255"); parquet 60 reports it.
    /// The file is refused, naming it and the row (the rows after it cannot be digested).
    #[test]
    fn parquet_corrupt_levels_refuse_the_file() {
        let hex = include_str!("../tests/data/corrupt-levels.parquet.hex").trim();
        let bytes = hex::decode(hex).unwrap();
        let err = parquet(&bytes).unwrap_err().to_string();
        assert!(err.contains("t.parquet"), "{err}");
        assert!(err.contains("row 1: unreadable parquet row"), "{err}");
        assert!(err.contains("RLE value 255 exceeds bit width 1"), "{err}");
    }

    /// Fuzz regression: a corrupted length prefix of the definition levels in a v1 data page
    /// makes parquet-rs slice past the page (`bytes` panics "range end out of bounds" in
    /// `parse_v1_level`); parquet 60 reports it. The file is refused.
    #[test]
    fn parquet_level_length_past_the_page_refuses_the_file() {
        let hex: String = [
            "504152311500151015102c15021500150615061c36002808f9ffffffffffffff1808f9ffffffffffffff1111000000f9",
            "fffffffff8ffff1500150c150c2c150215001506150600000200000002001500150c150c2c1502150015061506000002",
            "00000002001500150c150c2c150215001506150600000200530002001500151815182c15021500150615060000020000",
            "000200020000000200191102191808f9ffffffffffffff191808f9ffffffffffffff1502191600001911011918001918",
            "001502191602c92602000019110119180019180015021916022926020000191101191800191800150219160229260200",
            "001911011918001918001502191602192602001926020000191c1608156616000000191c166e152e1600001916000019",
            "1c169c01152e16000000191c16ca01152e16000000191c16f801153a160000001502196c48016d150a00150425001802",
            "696400150c2502180474657874250000150a2502180573636f726500150025021804666c6167001502250418046e756d",
            "73001602191c195c26001c1504192500061918026964150016021666166626083c1808f9ffffffffffffff1808f9ffff",
            "ffffffffff16002808f9ffffffffffffff180813ffffffffffffff11110000169004151416b202153e0026001c150c19",
            "2500061918047465787415001602162e162e266e3c36024212004c160029260200000016a404151a16f0021526002600",
            "1c150a1925000619180573636f726515001602162e162e269c013c36024212004c39260200000016be04151616960315",
            "260026001c150019250006191804666c616715001602162e162e26ca013c36024212004c39260200000016d404151616",
            "bc0315260026001c1502192500061918046e756d7315001602163a163a26f8013c36024212004c292602001926020000",
            "0016ea04151616e203152e0016aa021602260816aa021400002819706172717565742d72732076657273696f6e203533",
            "2e342e31195c1c00001c00001c00001c00001c000000a601000050415231",        ]
        .concat();
        let bytes = hex::decode(hex).unwrap();
        let err = parquet(&bytes).unwrap_err().to_string();
        assert!(err.contains("t.parquet"), "{err}");
        assert!(err.contains("not enough data to read levels"), "{err}");
        assert!(!in_guarded_parquet_call());
    }

    /// Fuzz regression: a dictionary page header claiming millions of int64 values in a few
    /// bytes made parquet-rs allocate them all (out of memory under the fuzzer's 2 GB limit).
    /// Rejected before the record reader runs, naming the file and the column.
    #[test]
    fn parquet_dictionary_larger_than_its_page_is_rejected() {
        let hex: String = [
            "504152311504151015224c1503150012000028b52ffd0048410000f9ffffffffffffff1506150415165c150215001502",
            "151015001500111c36002808f9ffffffffffffff1808f9ffffffffffffff111100000028b52ffd004811000000021504",
            "150a151c4c1502150012000028b52ffd0048290000010000000915061508151a5c150215001502151015041500111c36",
            "002801091801091111000000020128b52ffd004811000000021504151015224c1502150012000028b52ffd0048410000",
            "9224499224493b4015061508151a5c150215001502151015041500111c360028089224499224493b4018089224499224",
            "493b401111000000020128b52ffd004811000000021506151015225c150215001502150615041500111c360028010118",
            "01011111000000020128b52ffd004831000002000000020115041528153a4c150a150012000028b52ffd0048a10000bf",
            "0000005f0000009d00000002000000ffffffff1506151215245c150a15001502151015041504111c36002804bf000000",
            "1804ffffffff1111000000031e0a0128b52ffd00482900000303884600191102191808f9ffffffffffffff191808f9ff",
            "ffffffffffff1502191600001911021918010919180109150219160029260002001911021918089224499224493b4019",
            "18089224499224493b4015021916002926000200191102191801011918010115021916002926000200191102191804ff",
            "ffffff191804bf0000001502191600192602081926000a00191c1646157616000000191c16f401155e16000019160200",
            "191c169003157a16000000191c168a04156616000000191c16c6051574160000001504196c48016d150a001504250018",
            "02696400150c2502180474657874250000150a2502180573636f726500150025021804666c6167001502250418046e75",
            "6d73001602191c195c26001c150419350006101918026964150c160216900116b401264626081c1808f9ffffffffffff",
            "ff1808f9ffffffffffffff16002808f9ffffffffffffff1808f9ffffffffffffff1111000016d008151416ba06153e00",
            "26001c150c193500061019180474657874150c1602167216960126f40126bc011c36002801091801091111004c160229",
            "260002000016e408151c16f806152a0026001c150a193500061019180573636f7265150c160216940116b80126900326",
            "d2021c18089224499224493b4018089224499224493b40160028089224499224493b4018089224499224493b40111100",
            "4c392600020000168009151616a20715460026001c1500191506191804666c6167150c160216541666268a043c360028",
            "01011801011111004c392600020000169609151616e807152a0026001c150219350006101918046e756d73150c160a16",
            "a60116ca0126c60526f0041c1804bf0000001804ffffffff16002804bf0000001804ffffffff1111004c292602081926",
            "000a000016ac091516169208153e001690051602260816b2061400002819706172717565742d72732076657273696f6e",
            "2035332e342e31195c1c00001c00001c00001c00001c0000000802000050415231",        ]
        .concat();
        let bytes = hex::decode(hex).unwrap();
        let err = parquet(&bytes).unwrap_err().to_string();
        assert!(err.contains("t.parquet"), "{err}");
        // parquet 60 refuses it before our dictionary check (an integer overflow); either
        // way the file is refused, named.
        assert!(err.contains("not a readable parquet file"), "{err}");
    }

    #[test]
    fn parquet_garbage_is_an_error_naming_the_file() {
        let err = parquet(b"PAR1 not really parquet PAR1").unwrap_err();
        assert!(err.to_string().contains("t.parquet"), "{err}");
    }
}

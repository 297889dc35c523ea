//! Bounded CSV/TSV reading on `csv-core`: the first row names the columns, each further row
//! is a record. Memory per row is bounded by the record cap: a row longer than the cap is
//! digested streaming as raw bytes, never held, and a row with more fields than the header is
//! not split further than that. A row whose field count differs from the header's is
//! unreadable (digested as raw bytes, counted), never dropped.

use crate::record::{Field, RawRow, Sink};
use crate::{Error, Result};
use csv_core::{ReadRecordResult, ReaderBuilder};
use std::io::Read;

/// Most columns a header row may have.
pub const MAX_COLUMNS: usize = 100_000;

/// Parsing state of the row being read.
struct Row {
    /// Unescaped field bytes (up to the cap).
    out: Vec<u8>,
    outlen: usize,
    /// End offset of each field in `out`.
    ends: Vec<usize>,
    nends: usize,
    /// Fields seen, including those not kept.
    fields: usize,
    /// Whether `out` / `ends` stopped keeping the row (too long or too many fields).
    dropped: bool,
    raw: RawRow,
}

impl Row {
    fn reset(&mut self) {
        self.outlen = 0;
        self.nends = 0;
        self.fields = 0;
        self.dropped = false;
        self.raw.reset();
    }

    /// Make room after `OutputFull`: grow up to the cap, else stop keeping the fields.
    fn grow_out(&mut self, cap: usize) {
        if self.dropped || self.out.len() >= cap.max(1) {
            self.dropped = true;
            self.outlen = 0;
        } else {
            let n = (self.out.len() * 2).clamp(4096, cap.max(1));
            self.out.resize(n, 0);
        }
    }

    /// Make room after `OutputEndsFull`: grow up to `limit` fields, else stop keeping them.
    fn grow_ends(&mut self, limit: usize) {
        self.fields += self.nends;
        if self.dropped || self.ends.len() >= limit {
            self.dropped = true;
            self.nends = 0;
        } else {
            let n = (self.ends.len() * 2).clamp(16, limit);
            self.ends.resize(n, 0);
        }
    }

    fn field(&self, i: usize) -> &[u8] {
        let start = if i == 0 {
            0
        } else {
            self.ends.get(i - 1).copied().unwrap_or(0)
        };
        let end = self.ends.get(i).copied().unwrap_or(start);
        self.out.get(start..end).unwrap_or_default()
    }
}

/// Fill `buf` from `r`; 0 at end of input.
fn fill(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match r.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Read a delimited stream with a header row.
pub(crate) fn read_csv(
    name: &str,
    mut reader: impl Read,
    delimiter: u8,
    cap: usize,
    sink: &mut Sink,
) -> Result<()> {
    let mut core = ReaderBuilder::new().delimiter(delimiter).build();
    let mut input = vec![0u8; 1 << 16];
    let (mut pos, mut end, mut eof) = (0usize, 0usize, false);
    let mut row = Row {
        out: vec![0; 4096.min(cap.max(1))],
        outlen: 0,
        ends: vec![0; 16],
        nends: 0,
        fields: 0,
        dropped: false,
        raw: RawRow::new(cap, true),
    };
    let mut newlines = 0u64;
    let mut header: Option<Vec<String>> = None;
    loop {
        if pos == end && !eof {
            end = fill(&mut reader, &mut input).map_err(|e| Error::io(name, e))?;
            pos = 0;
            eof = end == 0;
        }
        let chunk = input.get(pos..end).unwrap_or_default();
        let out = row.out.get_mut(row.outlen..).unwrap_or_default();
        let ends = row.ends.get_mut(row.nends..).unwrap_or_default();
        let (res, nin, nout, nend) = core.read_record(chunk, out, ends);
        row.raw
            .push(chunk.get(..nin).unwrap_or_default(), &mut newlines);
        sink.s.bytes += nin as u64;
        pos += nin;
        row.outlen += nout;
        row.nends += nend;
        if row.raw.overflowed() {
            row.dropped = true;
        }
        let limit = header.as_ref().map_or(MAX_COLUMNS, |h| h.len() + 1);
        match res {
            ReadRecordResult::InputEmpty => {}
            ReadRecordResult::OutputFull => row.grow_out(cap),
            ReadRecordResult::OutputEndsFull => row.grow_ends(limit),
            ReadRecordResult::Record => {
                row.fields += row.nends;
                match &header {
                    None => {
                        let names = header_names(name, &row)?;
                        row.raw.set_context(&names);
                        sink.s.header = Some(names.clone());
                        header = Some(names);
                    }
                    Some(cols) => emit(&mut row, cols, cap, sink)?,
                }
                row.reset();
            }
            ReadRecordResult::End => break,
        }
    }
    if header.is_none() {
        return Err(Error::format(name, "empty csv: no header row"));
    }
    Ok(())
}

/// Column names from the header row: exact (a header cell is a name as written; duplicates
/// and empty names are kept as they are, so no two headers read alike).
fn header_names(name: &str, row: &Row) -> Result<Vec<String>> {
    if row.dropped {
        return Err(Error::format(
            name,
            format!(
                "header row longer than the record cap or with more than {MAX_COLUMNS} columns"
            ),
        ));
    }
    (0..row.nends)
        .map(|i| {
            std::str::from_utf8(row.field(i))
                .map(str::to_string)
                .map_err(|_| Error::format(name, "the header row is not UTF-8"))
        })
        .collect()
}

/// Give one data row to the sink: a record, or an unreadable row.
fn emit(row: &mut Row, cols: &[String], cap: usize, sink: &mut Sink) -> Result<()> {
    let line = row.raw.line;
    let why = if row.raw.overflowed() {
        Some(format!("record longer than {cap} bytes"))
    } else if row.fields != cols.len() {
        Some(format!(
            "ragged row: {} field(s), the header has {}",
            row.fields,
            cols.len()
        ))
    } else if row.dropped {
        // Not reachable while the unescaped output is never longer than the row; kept so a
        // truncated row can never pass as a record.
        Some(format!("record longer than {cap} bytes"))
    } else {
        None
    };
    if let Some(why) = why {
        let u = row.raw.unreadable(why);
        return sink.unreadable(line, None, u);
    }
    let fields = cols
        .iter()
        .enumerate()
        .map(|(i, n)| Field::from_bytes(n.as_str(), row.field(i)))
        .collect();
    sink.record(line, None, fields)
}

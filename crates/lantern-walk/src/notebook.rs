//! Jupyter notebooks (nbformat 4, and nbformat 3 `worksheets`): one blob per cell source and
//! one per cell's textual outputs, so findings name the cell.

use crate::{Blob, BlobKind, Visitor};
use lantern_core::Location;
use serde_json::Value;

/// Output MIME types whose content is text worth scanning (images and widgets are not).
const TEXT_MIME: &[&str] = &[
    "text/plain",
    "text/html",
    "text/markdown",
    "text/latex",
    "text/x-python",
    "application/json",
    "application/javascript",
];

/// nbformat 3 output keys that hold text.
const V3_TEXT_KEYS: &[&str] = &["text", "html", "latex", "json", "javascript", "markdown"];

/// One notebook cell's scannable text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NbCell {
    /// 0-based index over all cells (across nbformat 3 worksheets).
    pub index: u32,
    /// The cell's source.
    pub source: String,
    /// The textual outputs, joined with newlines (empty when none).
    pub output: String,
}

/// `true` when the last component of a display path names a notebook.
pub(crate) fn is_notebook_path(path: &str) -> bool {
    let last = path.rsplit(['!', '/', '\\']).next().unwrap_or(path);
    last.len() > 6
        && last
            .get(last.len() - 6..)
            .is_some_and(|ext| ext.eq_ignore_ascii_case(".ipynb"))
}

/// Split a notebook into cells. An error message says why the bytes are not a notebook.
pub(crate) fn split(data: &[u8]) -> Result<Vec<NbCell>, String> {
    let nb: Value = serde_json::from_slice(data).map_err(|e| e.to_string())?;
    let obj = nb.as_object().ok_or("top level is not a JSON object")?;
    let mut raw_cells: Vec<&Value> = Vec::new();
    if let Some(cells) = obj.get("cells") {
        raw_cells.extend(cells.as_array().ok_or("`cells` is not an array")?);
    } else if let Some(ws) = obj.get("worksheets") {
        for w in ws.as_array().ok_or("`worksheets` is not an array")? {
            if let Some(cells) = w.get("cells").and_then(Value::as_array) {
                raw_cells.extend(cells);
            }
        }
    } else {
        return Err("no `cells` nor `worksheets`".into());
    }
    let mut out = Vec::with_capacity(raw_cells.len());
    for (i, cell) in raw_cells.into_iter().enumerate() {
        let index = u32::try_from(i).map_err(|_| "too many cells")?;
        // nbformat 3 code cells keep their source in `input`.
        let source = cell
            .get("source")
            .or_else(|| cell.get("input"))
            .map(multiline)
            .unwrap_or_default();
        let mut output = String::new();
        if let Some(outputs) = cell.get("outputs").and_then(Value::as_array) {
            for o in outputs {
                output_text(o, &mut output);
            }
        }
        out.push(NbCell {
            index,
            source,
            output,
        });
    }
    Ok(out)
}

/// A notebook "multiline string": a string or a list of strings (joined as is: each carries its
/// own newline).
fn multiline(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts.iter().filter_map(Value::as_str).collect(),
        _ => String::new(),
    }
}

fn push_part(out: &mut String, s: &str) {
    if s.is_empty() {
        return;
    }
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(s);
}

/// Append the textual parts of one output: stream text, rich `data` of textual MIME types,
/// error name/value/traceback; nbformat 3 keys too.
fn output_text(o: &Value, out: &mut String) {
    if let Some(t) = o.get("text") {
        push_part(out, &multiline(t));
    }
    if let Some(data) = o.get("data").and_then(Value::as_object) {
        for mime in TEXT_MIME {
            if let Some(v) = data.get(*mime) {
                match v {
                    Value::String(_) | Value::Array(_) if *mime != "application/json" => {
                        push_part(out, &multiline(v))
                    }
                    other => push_part(out, &other.to_string()),
                }
            }
        }
    }
    if o.get("output_type").and_then(Value::as_str) == Some("pyerr")
        || o.get("output_type").and_then(Value::as_str) == Some("error")
    {
        for k in ["ename", "evalue"] {
            if let Some(s) = o.get(k).and_then(Value::as_str) {
                push_part(out, s);
            }
        }
    }
    if let Some(tb) = o.get("traceback").and_then(Value::as_array) {
        let lines: Vec<&str> = tb.iter().filter_map(Value::as_str).collect();
        push_part(out, &lines.join("\n"));
    }
    // nbformat 3 keeps rich outputs at the top level of the output.
    if o.get("data").is_none() {
        for k in V3_TEXT_KEYS.iter().filter(|k| **k != "text") {
            if let Some(v) = o.get(*k) {
                push_part(out, &multiline(v));
            }
        }
    }
}

/// Deliver one cell as a source blob and, when it has textual outputs, an output blob.
pub(crate) fn deliver(nb: &Location, cell: NbCell, v: &dyn Visitor) {
    let mk = |part: &str, text: String| {
        let mut location = nb.clone();
        location.cell = Some(cell.index);
        location.cell_part = Some(part.to_string());
        Blob {
            location,
            size: text.len() as u64,
            data: text.into_bytes(),
            partial: false,
            disk_path: None,
            kind: BlobKind::NotebookCell,
            window: None,
        }
    };
    v.blob(mk("source", cell.source));
    if !cell.output.is_empty() {
        v.blob(mk("output", cell.output));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notebook_paths() {
        assert!(is_notebook_path("a/b/Train.ipynb"));
        assert!(is_notebook_path("x.zip!nb/EDA.IPYNB"));
        assert!(!is_notebook_path("x.ipynb!inner.py"));
        assert!(!is_notebook_path(".ipynb"));
        assert!(!is_notebook_path("notes.txt"));
    }

    #[test]
    fn splits_v4_sources_and_outputs() {
        let nb = br##"{"nbformat":4,"nbformat_minor":5,"metadata":{},"cells":[
          {"cell_type":"markdown","metadata":{},"source":"# Title"},
          {"cell_type":"code","metadata":{},"execution_count":1,
           "source":["import os\n","key = 'abc'\n"],
           "outputs":[
             {"output_type":"stream","name":"stdout","text":["hello\n","world\n"]},
             {"output_type":"execute_result","execution_count":1,"metadata":{},
              "data":{"text/plain":["'abc'"],"image/png":"iVBORw0KGgo=","application/json":{"k":"v"}}},
             {"output_type":"error","ename":"KeyError","evalue":"'X'","traceback":["line1","line2"]}
                         ]}
        ]}"##;
        let cells = split(nb).unwrap();
        assert_eq!(cells.len(), 2);
        assert_eq!(cells[0].index, 0);
        assert_eq!(cells[0].source, "# Title");
        assert_eq!(cells[0].output, "");
        assert_eq!(cells[1].index, 1);
        assert_eq!(cells[1].source, "import os\nkey = 'abc'\n");
        assert_eq!(
            cells[1].output,
            "hello\nworld\n'abc'\n{\"k\":\"v\"}\nKeyError\n'X'\nline1\nline2"
        );
        assert!(!cells[1].output.contains("iVBOR"));
    }

    #[test]
    fn splits_v3_worksheets() {
        let nb = br#"{"nbformat":3,"metadata":{},"worksheets":[
          {"cells":[{"cell_type":"code","input":["x = 1\n"],"outputs":[
             {"output_type":"pyout","text":["1"],"html":["<b>1</b>"],"png":"AAAA"}]}]},
          {"cells":[{"cell_type":"markdown","source":"second sheet"}]}]}"#;
        let cells = split(nb).unwrap();
        assert_eq!(cells.len(), 2);
        assert_eq!(cells[0].source, "x = 1\n");
        assert_eq!(cells[0].output, "1\n<b>1</b>");
        assert_eq!(cells[1].index, 1);
        assert_eq!(cells[1].source, "second sheet");
    }

    #[test]
    fn rejects_non_notebooks() {
        assert!(split(b"{not json").is_err());
        assert!(split(b"[1,2]").is_err());
        assert!(split(br#"{"cells": 3}"#).is_err());
        assert!(split(br#"{"metadata": {}}"#).is_err());
    }
}

//! `lantern._native`: the Rust side of the `lantern` Python package.
//!
//! Every function releases the GIL while it works (`Python::allow_threads`) and returns plain
//! data (integers, strings, JSON text) that the pure-Python layer in `python/lantern` turns into
//! typed objects and exceptions. Nothing here starts a process: the `lantern` command of the
//! wheel runs `lantern_cli::run` inside the interpreter.

use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use std::path::PathBuf;

mod cli;
mod models;
mod scan;
mod verify;

/// Run the `lantern` command line (`argv[0]` is the program name) and return its exit code.
/// Output goes to the process's standard output and error, as from the binary.
#[pyfunction]
fn run(py: Python<'_>, argv: Vec<String>) -> i32 {
    py.allow_threads(|| cli::run(argv))
}

/// Run the command line and return `(exit code, error message)`; the message is empty unless
/// the code is 2. For the Python API, which reads the report from a file it names.
#[pyfunction]
fn run_captured(py: Python<'_>, argv: Vec<String>) -> (i32, String) {
    py.allow_threads(|| cli::run_captured(argv))
}

/// `lantern.scan`: the `lantern scan` pipeline. Returns `(report JSON as `--format json`
/// writes it, whether a finding is at or above the threshold)`; errors raise `ValueError`
/// with the message (the Python layer turns it into `lantern.Error`).
#[pyfunction]
#[pyo3(signature = (paths, only = None, fail_on = None, config = None, git = false,
                    no_ignore = false, min_severity = None, baseline = None))]
#[pyo3(name = "scan")]
#[allow(clippy::too_many_arguments)]
fn scan_paths(
    py: Python<'_>,
    paths: Vec<PathBuf>,
    only: Option<Vec<String>>,
    fail_on: Option<String>,
    config: Option<PathBuf>,
    git: bool,
    no_ignore: bool,
    min_severity: Option<String>,
    baseline: Option<PathBuf>,
) -> PyResult<(String, bool)> {
    let request = scan::Request {
        paths,
        only,
        fail_on,
        config,
        git,
        no_ignore,
        min_severity,
        baseline,
    };
    py.allow_threads(|| scan::scan(request))
        .map_err(PyValueError::new_err)
}

/// Scan one file on disk as a model file (pickle, PyTorch, joblib, NumPy, Keras, ...): only the
/// pickle parts and headers are read. With `as_pickle` (the file is about to be unpickled), a
/// file of no recognised format is analysed as a pickle. Returns findings and warnings as JSON.
#[pyfunction]
#[pyo3(signature = (path, allow_globals = Vec::new(), as_pickle = false))]
fn scan_model_file(
    py: Python<'_>,
    path: PathBuf,
    allow_globals: Vec<String>,
    as_pickle: bool,
) -> PyResult<String> {
    let out = py.allow_threads(|| models::scan_file(&path, allow_globals, as_pickle));
    out.map_err(|e| PyOSError::new_err(e.to_string()))
}

/// Scan bytes about to be unpickled (or a model file's bytes). Returns JSON text.
#[pyfunction]
#[pyo3(signature = (data, name, allow_globals = Vec::new()))]
fn scan_model_bytes(
    py: Python<'_>,
    data: Vec<u8>,
    name: String,
    allow_globals: Vec<String>,
) -> PyResult<String> {
    let out = py.allow_threads(|| models::scan_bytes(&data, &name, allow_globals));
    out.map_err(|e| PyValueError::new_err(e.to_string()))
}

/// Verify `model` (file or directory) against an OpenSSF Model Signing bundle with a public
/// key. Returns `(status, JSON text)`: status 0 verified, 1 not verified, 2 error.
#[pyfunction]
#[pyo3(signature = (model, signature, key, ignore_unsigned_files = false))]
fn verify_model(
    py: Python<'_>,
    model: PathBuf,
    signature: PathBuf,
    key: PathBuf,
    ignore_unsigned_files: bool,
) -> (i32, String) {
    py.allow_threads(|| verify::verify(&model, &signature, &key, ignore_unsigned_files))
}

/// The `lantern._native` extension module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(run, m)?)?;
    m.add_function(wrap_pyfunction!(run_captured, m)?)?;
    m.add_function(wrap_pyfunction!(scan_paths, m)?)?;
    m.add_function(wrap_pyfunction!(scan_model_file, m)?)?;
    m.add_function(wrap_pyfunction!(scan_model_bytes, m)?)?;
    m.add_function(wrap_pyfunction!(verify_model, m)?)?;
    Ok(())
}

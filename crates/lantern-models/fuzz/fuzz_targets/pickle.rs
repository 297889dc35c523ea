//! Fuzz target: the symbolic pickle VM and its findings on arbitrary byte streams.
#![no_main]

use lantern_core::Location;
use lantern_models::{pickle, pickle_findings, ModelReport, Policy};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let a = pickle::analyse(data);
    let mut rep = ModelReport::default();
    pickle_findings(
        &a,
        &Location::path("fuzz.pkl"),
        &Policy::default(),
        &mut rep,
    );
    assert!(a.end as usize <= data.len());
});

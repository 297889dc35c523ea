//! Fuzz the code/config reference scanner (calls, config keys, vLLM, Ollama, notebooks).
#![no_main]
use libfuzzer_sys::fuzz_target;

const NAMES: [&str; 5] = ["train.py", "nb.ipynb", "config.yaml", "Modelfile", "app.ts"];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let text = String::from_utf8_lossy(rest);
    let name = NAMES[sel as usize % NAMES.len()];
    for r in lantern_bom::refs::scan_text(name, &text) {
        assert!(r.line >= 1);
        assert!(!r.id.is_empty());
    }
});

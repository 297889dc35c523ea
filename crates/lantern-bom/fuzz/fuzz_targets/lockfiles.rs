//! Fuzz every manifest and lockfile parser, README front matter and config.json with arbitrary
//! text; the first byte picks the parser.
#![no_main]
use lantern_bom::lockfiles::Format;
use libfuzzer_sys::fuzz_target;

const FORMATS: [Format; 10] = [
    Format::Requirements,
    Format::Pyproject,
    Format::Pipfile,
    Format::PoetryLock,
    Format::UvLock,
    Format::PipfileLock,
    Format::PackageJson,
    Format::PackageLock,
    Format::PnpmLock,
    Format::CargoLock,
];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let text = String::from_utf8_lossy(rest);
    match sel as usize % (FORMATS.len() + 2) {
        i if i < FORMATS.len() => {
            let _ = FORMATS[i].parse(&text);
        }
        10 => {
            let _ = lantern_bom::hf::parse_card(&text);
        }
        _ => {
            let _ = lantern_bom::hf::parse_config(rest);
        }
    }
});

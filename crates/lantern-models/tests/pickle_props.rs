//! Property tests of the pickle analyser: arbitrary bytes never panic and every reported offset
//! lies inside the input; a payload is found whatever benign data surrounds it; reading the
//! stream in tiny pieces gives the same analysis as the whole slice.

use lantern_models::pickle::{analyse, analyse_reader, Issue};
use proptest::prelude::*;

fn unicode(s: &str) -> Vec<u8> {
    let mut v = vec![b'X'];
    v.extend_from_slice(&(s.len() as u32).to_le_bytes());
    v.extend_from_slice(s.as_bytes());
    v
}

/// A benign value in protocol 2: ints, strings, floats, None, tuples and lists of them.
fn value() -> impl Strategy<Value = Vec<u8>> {
    let leaf = prop_oneof![
        any::<u8>().prop_map(|b| vec![b'K', b]),
        any::<i32>().prop_map(|i| {
            let mut v = vec![b'J'];
            v.extend_from_slice(&i.to_le_bytes());
            v
        }),
        "[a-z_]{0,12}".prop_map(|s| unicode(&s)),
        any::<f64>().prop_map(|f| {
            let mut v = vec![b'G'];
            v.extend_from_slice(&f.to_be_bytes());
            v
        }),
        Just(vec![b'N']),
        Just(vec![0x88]),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(|items| {
                let mut v = vec![b'('];
                for i in items {
                    v.extend(i);
                }
                v.push(b't');
                v
            }),
            prop::collection::vec(inner, 0..6).prop_map(|items| {
                let mut v = vec![b']', b'('];
                for i in items {
                    v.extend(i);
                }
                v.push(b'e');
                v
            }),
        ]
    })
}

/// A reader that hands out at most `step` bytes per call (chunk boundaries everywhere).
struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
}

impl std::io::Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.step.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn tiny_reads_give_the_same_analysis(
        data in prop::collection::vec(any::<u8>(), 0..2048),
        step in 1usize..8,
    ) {
        let whole = analyse(&data);
        let streamed = analyse_reader(&mut Trickle { data: &data, step });
        prop_assert_eq!(&whole.imports, &streamed.imports);
        prop_assert_eq!(&whole.issues, &streamed.issues);
        prop_assert_eq!(whole.end, streamed.end);
        prop_assert_eq!(whole.opcodes, streamed.opcodes);
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_offsets_are_in_bounds(data in prop::collection::vec(any::<u8>(), 0..2048)) {
        let a = analyse(&data);
        prop_assert!(a.end as usize <= data.len());
        for i in &a.imports {
            prop_assert!((i.offset as usize) < data.len());
        }
        for is in &a.issues {
            let off = match is {
                Issue::Malformed { offset, .. }
                | Issue::Unresolved { offset, .. }
                | Issue::GlobalMutation { offset, .. }
                | Issue::EmbeddedArchive { offset, .. }
                | Issue::Extension { offset, .. } => *offset,
            };
            prop_assert!(off as usize <= data.len());
        }
    }

    #[test]
    fn payload_is_found_among_any_benign_values(
        before in prop::collection::vec(value(), 0..8),
        after in prop::collection::vec(value(), 0..8),
        cmd in "[ -~]{0,40}",
    ) {
        let mut p = vec![0x80, 2, b'('];
        for v in &before {
            p.extend_from_slice(v);
        }
        let at = p.len();
        p.extend_from_slice(b"cos\nsystem\n");
        p.extend(unicode(&cmd));
        p.extend_from_slice(b"\x85R");
        for v in &after {
            p.extend_from_slice(v);
        }
        p.extend_from_slice(b"t.");
        let a = analyse(&p);
        prop_assert!(a.issues.is_empty(), "{:?}", a.issues);
        prop_assert_eq!(a.imports.len(), 1);
        prop_assert_eq!(a.imports[0].full_name(), "os.system");
        prop_assert_eq!(a.imports[0].offset as usize, at);
        let call = a.imports[0].call.clone().unwrap_or_default();
        prop_assert_eq!(call, format!("os.system({cmd:?})"));
    }
}

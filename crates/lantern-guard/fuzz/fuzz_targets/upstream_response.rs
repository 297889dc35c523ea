//! Upstream responses as the guard's HTTP/1.1 client reads them (`h1`): an arbitrary byte
//! stream is parsed as a response head and its body decoded, all at once and in reads of
//! fuzzer-chosen sizes; both must agree, never panic, and never yield more body bytes than the
//! input holds (or than a length-delimited body declares).
#![no_main]

use bytes::BytesMut;
use lantern_guard::h1::{Decoded, Decoder, Framing, HeadParser};
use libfuzzer_sys::fuzz_target;

/// What reading `wire` in reads of `sizes` gives: `Ok((framing, body))` or an error marker.
fn read(wire: &[u8], sizes: &[usize], head_request: bool) -> Result<(Framing, Vec<u8>), ()> {
    let mut buf = BytesMut::new();
    let mut at = 0;
    let mut r = 0;
    let mut more = |buf: &mut BytesMut| -> bool {
        if at >= wire.len() {
            return false;
        }
        let n = sizes.get(r % sizes.len().max(1)).copied().unwrap_or(wire.len()).clamp(1, wire.len() - at);
        buf.extend_from_slice(&wire[at..at + n]);
        at += n;
        r += 1;
        true
    };
    let mut parser = HeadParser::new(head_request);
    let head = loop {
        match parser.parse(&mut buf) {
            Ok(Some(h)) => break h,
            Ok(None) => {
                if !more(&mut buf) {
                    return Err(());
                }
            }
            Err(_) => return Err(()),
        }
    };
    let mut d = Decoder::new(head.framing);
    let mut body = Vec::new();
    loop {
        match d.decode(&mut buf) {
            Ok(Decoded::Data(b)) => {
                assert!(!b.is_empty(), "empty data frame");
                body.extend_from_slice(&b);
            }
            Ok(Decoded::End) => break,
            Ok(Decoded::NeedMore) => {
                if !more(&mut buf) {
                    d.eof().map_err(|_| ())?;
                }
            }
            Err(_) => return Err(()),
        }
    }
    if let Framing::Length(n) = head.framing {
        assert_eq!(body.len() as u64, n, "length-delimited body of another length");
    }
    assert!(body.len() <= wire.len());
    Ok((head.framing, body))
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let nsizes = usize::from(flags & 7);
    let (sizes, wire) = rest.split_at(nsizes.min(rest.len()));
    let sizes: Vec<usize> = sizes.iter().map(|&s| usize::from(s) + 1).collect();
    let head_request = flags & 8 != 0;
    let whole = read(wire, &[wire.len().max(1)], head_request);
    let pieces = read(wire, &sizes, head_request);
    assert_eq!(whole, pieces, "reads of other sizes read another response");
});

//! Arbitrary bytes in arbitrary splits through the Framer; everything that
//! decodes must re-encode to the same PDU, and the split must not change
//! what comes out.
#![no_main]

use byosms_core::framer::{Frame, Framer, DEFAULT_MAX_COMMAND_LENGTH};
use byosms_core::pdu;
use libfuzzer_sys::fuzz_target;

/// Frames as comparable across splits: a fatal error may have seen fewer
/// header octets when the stream arrived in smaller pieces.
fn normalise(frames: &[Frame]) -> Vec<Frame> {
    frames
        .iter()
        .cloned()
        .map(|f| match f {
            Frame::Error(mut e) if e.fatal => {
                e.command_id = None;
                e.sequence_number = None;
                e.error.message.clear();
                Frame::Error(e)
            }
            other => other,
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    // Layout: [max selector][n][n split sizes][stream...]
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let Some((&n, rest)) = rest.split_first() else {
        return;
    };
    let n = usize::from(n % 16).min(rest.len());
    let (sizes, stream) = rest.split_at(n);
    let max = match sel % 4 {
        0 => DEFAULT_MAX_COMMAND_LENGTH,
        1 => 16,
        2 => 300,
        _ => 4096,
    };

    let mut whole = Vec::new();
    let mut f = Framer::new(max);
    let _ = f.feed_all(stream, &mut whole);

    let mut split = Vec::new();
    let mut g = Framer::new(max);
    let mut pos = 0;
    let mut i = 0;
    while pos < stream.len() {
        let step = sizes
            .get(i % sizes.len().max(1))
            .map_or(1, |&s| usize::from(s).max(1));
        let end = (pos + step).min(stream.len());
        if i % 2 == 0 {
            if g.feed_all(&stream[pos..end], &mut split).is_err() {
                break;
            }
        } else {
            if g.feed(&stream[pos..end]).is_err() {
                break;
            }
            while let Some(fr) = g.next_frame() {
                split.push(fr);
            }
        }
        pos = end;
        i += 1;
    }
    assert_eq!(normalise(&split), normalise(&whole));

    for fr in &whole {
        if let Frame::Pdu(p) = fr {
            let bytes = pdu::encode(p).expect("a decoded PDU must re-encode");
            assert_eq!(bytes.len(), p.encoded_len());
            let back = pdu::decode(&bytes).expect("a re-encoded PDU must decode");
            assert_eq!(&back, p);
            assert_eq!(pdu::encode(&back).unwrap(), bytes);
        }
    }

    // The one-shot decoder on the raw input, too.
    if let Ok(p) = pdu::decode(stream) {
        assert_eq!(pdu::decode(&pdu::encode(&p).unwrap()).unwrap(), p);
    }
});

use super::*;

/// Feeds `input` in pieces of `step` bytes as a socket might deliver it;
/// returns the outcome and the bytes left after the end.
fn decode(input: &[u8], step: usize, max: u64) -> (Received, Vec<u8>) {
    let mut d = DotDecoder::new(max);
    let mut pending = Vec::new();
    let mut rest = input;
    while !d.is_done() {
        assert!(!rest.is_empty() || !pending.is_empty(), "ran out of input");
        let take = step.min(rest.len());
        pending.extend_from_slice(&rest[..take]);
        rest = &rest[take..];
        let used = d.feed(&pending);
        pending.drain(..used);
        if take == 0 && used == 0 {
            panic!("stuck");
        }
    }
    pending.extend_from_slice(rest);
    (d.finish(), pending)
}

#[test]
fn removes_stuffed_dots_and_stops_at_the_end_marker_whatever_the_pieces() {
    let input = b"Subject: x\r\n\r\n..leading dot\r\n.\r\n.also\r\nend\r\n.\r\nQUIT\r\n";
    for step in 1..input.len() {
        let (got, rest) = decode(input, step, 1000);
        // ".\r\n" after the first CRLF ends it: ".also" is after the end.
        assert_eq!(
            got,
            Received::Message(b"Subject: x\r\n\r\n.leading dot\r\n".to_vec()),
            "step {step}"
        );
        assert_eq!(rest, b".also\r\nend\r\n.\r\nQUIT\r\n");
    }
}

#[test]
fn an_empty_message_and_a_dot_only_line_inside() {
    assert_eq!(decode(b".\r\n", 1, 10).0, Received::Message(Vec::new()));
    assert_eq!(
        decode(b"a\r\n..\r\n.\r\n", 2, 100).0,
        Received::Message(b"a\r\n.\r\n".to_vec())
    );
}

#[test]
fn a_bare_lf_never_ends_the_message_and_is_refused() {
    // "\n.\n" is not the end (SMTP smuggling); only CRLF.CRLF is.
    let (got, rest) = decode(b"a\n.\nMAIL FROM:<x>\r\n.\r\nNOOP\r\n", 3, 1000);
    assert_eq!(got, Received::BareLf);
    assert_eq!(rest, b"NOOP\r\n");
}

/// `LF . CRLF` is not the end either (found by the lmtp_session fuzz
/// target, corpus `crash-lf-dot-crlf`): the end marker needs the CRLF
/// before the dot too.
#[test]
fn a_dot_line_after_a_bare_lf_does_not_end_the_message() {
    for step in 1..8 {
        let (got, rest) = decode(b"a\r\x00\n.\r\nMAIL FROM:<x>\r\n.\r\nNOOP\r\n", step, 1000);
        assert_eq!(got, Received::BareLf, "step {step}");
        assert_eq!(rest, b"NOOP\r\n", "step {step}");
    }
}

#[test]
fn over_the_limit_is_read_to_the_end_and_refused() {
    let mut input = b"x".repeat(5000);
    input.extend_from_slice(b"\r\n.\r\nNOOP\r\n");
    let (got, rest) = decode(&input, 700, 1000);
    assert_eq!(got, Received::TooBig);
    assert_eq!(rest, b"NOOP\r\n");
}

#[test]
fn long_lines_are_kept_whole() {
    let line = b"y".repeat(3000);
    let mut input = line.clone();
    input.extend_from_slice(b"\r\n.\r\n");
    let mut want = line;
    want.extend_from_slice(b"\r\n");
    assert_eq!(decode(&input, 1000, 10_000).0, Received::Message(want));
}

#[test]
fn taking_decoded_bytes_as_they_come_yields_the_same_message() {
    let input = b"Subject: x\r\n\r\n..dot\r\nsecond line\r\n.\r\n";
    for step in 1..input.len() {
        let mut d = DotDecoder::new(1000);
        let mut streamed = Vec::new();
        let mut pending = Vec::new();
        for piece in input.chunks(step) {
            pending.extend_from_slice(piece);
            let used = d.feed(&pending);
            pending.drain(..used);
            streamed.extend(d.take_decoded());
            assert_eq!(d.decoded_len(), 0);
        }
        assert!(d.is_done(), "step {step}");
        assert_eq!(d.finish(), Received::Message(Vec::new()));
        assert_eq!(streamed, b"Subject: x\r\n\r\n.dot\r\nsecond line\r\n");
    }
}

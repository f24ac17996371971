//! The messages every benchmark stores on both servers: deterministic, so
//! that mailkeep and Dovecot get byte-identical mail in the same run.
//!
//! [`text_message`] is plain text of about 4 KB; [`mixed_message`] adds
//! the structures a real mailbox holds (multipart/alternative,
//! attachments, forwarded messages), so that BODYSTRUCTURE and section
//! fetches have something to walk.

/// Body and subject words.
const WORDS: &str = "meeting report budget project deadline review lunch invoice release \
    server backup schedule holiday garden bicycle coffee weather train concert library kitchen \
    window mountain river harbour market question answer update draft contract customer support \
    ticket network printer monitor keyboard planning quarter summary minutes agenda travel hotel \
    flight museum recipe birthday invitation the and with from about please thanks tomorrow \
    today friday monday office team notes";
/// First names of senders and recipients (addresses are `name@...`).
const NAMES: &str = "Alice Bob Carol Dave Eve Frank Grace Heidi Ivan Judy Mallory Niaj Olivia";
const MONTHS: &str = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec";
const ZONES: &str = "+0000 +0100 +0200 -0500 -0800 +0530 +0900";

/// A word in the Subject of messages 42, 242, ... and the body of 142,
/// 342, ...: 1% of the [`text_message`]s.
pub const RARE: &str = "quokkaphant";
/// A word in no message.
pub const ABSENT: &str = "zyxwvnevertq";

/// The `k`-th (modulo their count) of the words of `list`.
fn nth(list: &'static str, k: usize) -> &'static str {
    let count = list.split_ascii_whitespace().count();
    list.split_ascii_whitespace().nth(k % count).unwrap_or("")
}

/// A deterministic xorshift64* generator (the benchmarks' only source of
/// chance, so that both servers get the same choices).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed` (any value; 0 is replaced).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1) ^ 0x9e37_79b9_7f4a_7c15)
    }

    /// The next number.
    pub fn next_number(&mut self) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        self.next_number().checked_rem(n).unwrap_or(0)
    }

    /// A word of `list`.
    fn pick(&mut self, list: &'static str) -> &'static str {
        nth(list, self.next_number())
    }
}

/// Message `i`'s date as `(day, month, year, time, zone)`: the same in
/// its Date: header and its APPEND date-time.
fn date_of(i: usize) -> (usize, &'static str, usize, String, &'static str) {
    let time = format!("{:02}:{:02}:{:02}", i % 24, (i * 7) % 60, (i * 13) % 60);
    (
        1 + i % 28,
        nth(MONTHS, i / 28),
        2020 + i % 5,
        time,
        nth(ZONES, i),
    )
}

/// APPEND's date-time argument for message `i` (the same as its Date:),
/// quotes included.
pub fn internal_date(i: usize) -> String {
    let (day, month, year, time, zone) = date_of(i);
    format!("\"{day:02}-{month}-{year} {time} {zone}\"")
}

/// Message `i`'s generator.
fn rng_of(i: usize) -> Rng {
    Rng(0x9e37_79b9_7f4a_7c15 ^ (i as u64 + 1).wrapping_mul(0x1000_0001))
}

/// The header block of message `i` up to (not including) its
/// Content-Type, with `extra` words in the Subject.
fn headers(i: usize, rng: &mut Rng, extra: Option<&str>) -> String {
    let (day, month, year, time, zone) = date_of(i);
    let from = nth(NAMES, i);
    let to = nth(NAMES, i * 5 + 3);
    let mut subject: Vec<&str> = (0..3 + rng.next_number() % 4)
        .map(|_| rng.pick(WORDS))
        .collect();
    if let Some(extra) = extra {
        subject.push(extra);
    }
    format!(
        "From: {from} Example <{}@example{}.org>\r\n\
         To: {to} Sample <{}@example.net>\r\n\
         Subject: {} #{i}\r\n\
         Date: {day} {month} {year} {time} {zone}\r\n\
         Message-ID: <bench{i}@imap-vs-dovecot.example>\r\n\
         MIME-Version: 1.0\r\n",
        from.to_lowercase(),
        i % 7,
        to.to_lowercase(),
        subject.join(" "),
    )
}

/// Lines of words until `text` is `target` bytes long; [`RARE`] starts
/// line `rare_line` if given.
fn fill(text: &mut String, target: usize, rng: &mut Rng, rare_line: Option<usize>) {
    let mut line_no = 0;
    while text.len() < target {
        let mut line = String::new();
        if rare_line == Some(line_no) {
            line.push_str(RARE);
        }
        while line.len() < 66 {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(rng.pick(WORDS));
        }
        text.push_str(&line);
        text.push_str("\r\n");
        line_no += 1;
    }
}

/// Message `i` (UID `i + 1` when appended in order): about 4 KB of plain
/// text, CRLF lines, varied headers and body words; [`RARE`] in 1% of
/// them, [`ABSENT`] in none.
pub fn text_message(i: usize) -> Vec<u8> {
    let mut rng = rng_of(i);
    let rare_subject = (i % 200 == 42).then_some(RARE);
    let mut text = headers(i, &mut rng, rare_subject);
    text.push_str("Content-Type: text/plain; charset=us-ascii\r\n\r\n");
    let target = 3600 + rng.next_number() % 800;
    let rare_line = (i % 200 == 142).then(|| 5 + rng.next_number() % 20);
    fill(&mut text, target, &mut rng, rare_line);
    text.into_bytes()
}

/// A part's body: lines of words, about `bytes` long.
fn words(rng: &mut Rng, bytes: usize) -> String {
    let mut text = String::new();
    fill(&mut text, bytes, rng, None);
    text
}

/// Base64 of `bytes` deterministic bytes, in 76-column lines.
fn attachment(rng: &mut Rng, bytes: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let chars = bytes.div_ceil(3) * 4;
    let mut out = String::with_capacity(chars + chars / 38);
    for k in 0..chars {
        out.push(char::from(ALPHABET[rng.below(64)]));
        if k % 76 == 75 {
            out.push_str("\r\n");
        }
    }
    if !out.ends_with("\r\n") {
        out.push_str("\r\n");
    }
    out
}

/// Message `i` of a mailbox as mail clients see them: by `i % 10`,
/// plain text (0-4), multipart/alternative text and HTML (5-6),
/// multipart/mixed with a PDF attachment of 6-20 KB (7-8), or a
/// forwarded message/rfc822 inside multipart/mixed (9).
pub fn mixed_message(i: usize) -> Vec<u8> {
    let mut rng = rng_of(i);
    match i % 10 {
        0..=4 => text_message(i),
        5 | 6 => {
            let mut text = headers(i, &mut rng, None);
            let boundary = format!("=_alt_{i}");
            let size = 1500 + rng.below(2000);
            let plain = words(&mut rng, size);
            let html = format!(
                "<html><body><p>{}</p></body></html>\r\n",
                words(&mut rng, 2000)
            );
            text.push_str(&format!(
                "Content-Type: multipart/alternative; boundary=\"{boundary}\"\r\n\r\n\
                 --{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\
                 Content-Transfer-Encoding: 7bit\r\n\r\n{plain}\
                 --{boundary}\r\nContent-Type: text/html; charset=utf-8\r\n\
                 Content-Transfer-Encoding: 7bit\r\n\r\n{html}\
                 --{boundary}--\r\n"
            ));
            text.into_bytes()
        }
        7 | 8 => {
            let mut text = headers(i, &mut rng, None);
            let boundary = format!("=_mixed_{i}");
            let size = 800 + rng.below(1500);
            let plain = words(&mut rng, size);
            let size = 6000 + rng.below(14000);
            let pdf = attachment(&mut rng, size);
            text.push_str(&format!(
                "Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n\
                 --{boundary}\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n{plain}\
                 --{boundary}\r\nContent-Type: application/pdf; name=\"report-{i}.pdf\"\r\n\
                 Content-Disposition: attachment; filename=\"report-{i}.pdf\"\r\n\
                 Content-Transfer-Encoding: base64\r\n\r\n{pdf}\
                 --{boundary}--\r\n"
            ));
            text.into_bytes()
        }
        _ => {
            let mut text = headers(i, &mut rng, None);
            let boundary = format!("=_fwd_{i}");
            let note = words(&mut rng, 300);
            let inner = String::from_utf8_lossy(&text_message(i + 100_000)).into_owned();
            text.push_str(&format!(
                "Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n\
                 --{boundary}\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n{note}\
                 --{boundary}\r\nContent-Type: message/rfc822\r\n\r\n{inner}\
                 --{boundary}--\r\n"
            ));
            text.into_bytes()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_the_same_every_time() {
        for i in [0, 7, 42, 199] {
            assert_eq!(text_message(i), text_message(i));
            assert_eq!(mixed_message(i), mixed_message(i));
        }
    }

    #[test]
    fn the_rare_word_is_in_one_text_message_of_a_hundred() {
        let hits = (0..1000)
            .filter(|i| String::from_utf8(text_message(*i)).unwrap().contains(RARE))
            .count();
        assert_eq!(hits, 10);
    }

    #[test]
    fn mixed_messages_have_crlf_lines_only() {
        for i in 0..20 {
            let m = mixed_message(i);
            for (k, b) in m.iter().enumerate() {
                if *b == b'\n' {
                    assert_eq!(m[k - 1], b'\r', "message {i} byte {k}");
                }
            }
        }
    }

    #[test]
    fn mixed_messages_carry_their_structures() {
        let text = |i| String::from_utf8(mixed_message(i)).unwrap();
        assert!(text(5).contains("multipart/alternative"));
        assert!(text(7).contains("application/pdf"));
        assert!(text(9).contains("message/rfc822"));
        assert!(text(3).contains("text/plain"));
    }
}

//! SEARCH: every key family, decoded text matching, date zones, nesting
//! and cancellation.

#[allow(dead_code)]
mod common;

use std::sync::atomic::AtomicBool;

use common::temp_store;
use mailkeep_store::{InternalDate, SearchKey as K, Store, StoreError, UidRange};
use time::{Date, Month};

fn add(store: &Store, raw: &str, flags: &[&str], secs: i64, offset: i32) -> u32 {
    let date = InternalDate {
        secs,
        offset_minutes: offset,
    };
    common::append_dated(store, "INBOX", raw.as_bytes(), flags, date).uid
}

fn search(store: &Store, key: K) -> Vec<u32> {
    store
        .search("INBOX", 0, &key, &AtomicBool::new(false))
        .unwrap()
        .uids
}

fn d(y: i32, m: Month, day: u8) -> Date {
    Date::from_calendar_date(y, m, day).unwrap()
}

fn s(x: &str) -> String {
    x.to_string()
}

/// 2024-03-10 00:30:00 UTC.
const T0: i64 = 1_710_030_600;

fn fixture() -> (tempfile::TempDir, Store) {
    let (dir, st) = temp_store();
    // 1: plain, seen, ISO-8859-1 QP body.
    add(
        &st,
        "From: Alice <alice@example.org>\r\nTo: bob@example.net\r\nCc: carol@example.com\r\nSubject: Caf\r\nDate: Sat, 9 Mar 2024 23:00:00 -0500\r\nX-Tag: Blue\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nCaf=E9 cr=E8me br=FBl=E9e\r\n",
        &["\\Seen", "$Important"],
        T0,
        0,
    );
    // 2: RFC 2047 B-encoded subject, base64 text part, flagged, deleted.
    add(
        &st,
        "From: =?UTF-8?B?SsO8cmdlbg==?= <juergen@example.de>\r\nTo: alice@example.org\r\nBcc: secret@example.org\r\nSubject: =?UTF-8?B?R3LDvMOfZSBhdXMgTcO8bmNoZW4=?=\r\nDate: Sun, 10 Mar 2024 10:00:00 +0100\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\nRWluIGdlaGVpbWVzIFdvcnQ6IFp3aWViZWxrdWNoZW4K\r\n--b1\r\nContent-Type: application/pdf; name=\"invoice-2024.pdf\"\r\nContent-Disposition: attachment; filename=\"invoice-2024.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b1--\r\n",
        &["\\Flagged", "\\Deleted", "\\Answered"],
        T0 + 86_400,
        60,
    );
    // 3: only inside HTML; draft; large.
    let filler = "x".repeat(5000);
    add(
        &st,
        &format!(
            "From: Bob <bob@example.net>\r\nTo: alice@example.org\r\nSubject: Re: Newsletter\r\nDate: Mon, 11 Mar 2024 08:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b2\r\n\r\n--b2\r\nContent-Type: text/plain\r\n\r\nplain part\r\n--b2\r\nContent-Type: text/html\r\n\r\n<html><body><p>Only in <b>hypertext</b> here</p><!-- {filler} --></body></html>\r\n--b2--\r\n"
        ),
        &["\\Draft"],
        T0 + 2 * 86_400,
        0,
    );
    (dir, st)
}

#[test]
fn flag_keys_from_index() {
    let (_d, st) = fixture();
    assert_eq!(search(&st, K::All), vec![1, 2, 3]);
    assert_eq!(search(&st, K::Seen), vec![1]);
    assert_eq!(search(&st, K::Unseen), vec![2, 3]);
    assert_eq!(search(&st, K::Flagged), vec![2]);
    assert_eq!(search(&st, K::Unflagged), vec![1, 3]);
    assert_eq!(search(&st, K::Deleted), vec![2]);
    assert_eq!(search(&st, K::Undeleted), vec![1, 3]);
    assert_eq!(search(&st, K::Answered), vec![2]);
    assert_eq!(search(&st, K::Unanswered), vec![1, 3]);
    assert_eq!(search(&st, K::Draft), vec![3]);
    assert_eq!(search(&st, K::Undraft), vec![1, 2]);
    assert_eq!(search(&st, K::Keyword(s("$important"))), vec![1]);
    assert_eq!(search(&st, K::Unkeyword(s("$Important"))), vec![2, 3]);
}

#[test]
fn size_uid_modseq_keys() {
    let (_d, st) = fixture();
    assert_eq!(search(&st, K::Larger(4000)), vec![3]);
    assert_eq!(search(&st, K::Smaller(4000)), vec![1, 2]);
    assert_eq!(
        search(&st, K::Uid(vec![UidRange::new(2, u32::MAX)])),
        vec![2, 3]
    );
    assert_eq!(
        search(&st, K::Uid(vec![UidRange::single(u32::MAX)])),
        vec![3]
    );
    let all = st
        .search("INBOX", 0, &K::All, &AtomicBool::new(false))
        .unwrap();
    assert!(all.highest_modseq > 0);
    assert_eq!((all.min(), all.max()), (Some(1), Some(3)));
    assert_eq!(search(&st, K::ModSeq(all.highest_modseq)), vec![3]);
    assert_eq!(search(&st, K::Older(60)), vec![1, 2, 3]);
    assert!(search(&st, K::Younger(60)).is_empty());
    let today = time::OffsetDateTime::now_utc().date();
    assert_eq!(search(&st, K::SavedOn(today)), vec![1, 2, 3]);
    assert_eq!(search(&st, K::SavedSince(today)), vec![1, 2, 3]);
    assert!(search(&st, K::SavedBefore(today)).is_empty());
}

#[test]
fn internal_date_uses_its_own_zone() {
    let (_d, st) = temp_store();
    // 2024-03-10 00:30 UTC given as -0100: 2024-03-09 23:30 local.
    add(&st, "Subject: a\r\n\r\nx\r\n", &[], T0, -60);
    // Same instant given as +0000: March 10.
    add(&st, "Subject: b\r\n\r\nx\r\n", &[], T0, 0);
    assert_eq!(search(&st, K::On(d(2024, Month::March, 9))), vec![1]);
    assert_eq!(search(&st, K::On(d(2024, Month::March, 10))), vec![2]);
    assert_eq!(search(&st, K::Before(d(2024, Month::March, 10))), vec![1]);
    assert_eq!(search(&st, K::Since(d(2024, Month::March, 10))), vec![2]);
}

#[test]
fn sent_dates_use_the_header_zone() {
    let (_d, st) = fixture();
    // Message 1's Date is 9 March -0500 (10 March in UTC).
    assert_eq!(search(&st, K::SentOn(d(2024, Month::March, 9))), vec![1]);
    assert_eq!(
        search(&st, K::SentBefore(d(2024, Month::March, 10))),
        vec![1]
    );
    assert_eq!(
        search(&st, K::SentSince(d(2024, Month::March, 10))),
        vec![2, 3]
    );
    assert_eq!(search(&st, K::SentOn(d(2024, Month::March, 11))), vec![3]);
}

#[test]
fn address_and_header_keys() {
    let (_d, st) = fixture();
    assert_eq!(search(&st, K::From(s("ALICE@"))), vec![1]);
    assert_eq!(search(&st, K::From(s("jürgen"))), vec![2]);
    assert_eq!(search(&st, K::To(s("alice"))), vec![2, 3]);
    assert_eq!(search(&st, K::Cc(s("carol"))), vec![1]);
    assert_eq!(search(&st, K::Bcc(s("secret"))), vec![2]);
    assert_eq!(search(&st, K::Header(s("x-tag"), s("blue"))), vec![1]);
    assert_eq!(search(&st, K::Header(s("X-Tag"), s(""))), vec![1]);
    assert!(search(&st, K::Header(s("X-Other"), s(""))).is_empty());
}

#[test]
fn decoded_text_matches() {
    let (_d, st) = fixture();
    // RFC 2047 B-encoded subject, searched in UTF-8, other case.
    assert_eq!(search(&st, K::Subject(s("GRÜSSE"))), vec![]);
    assert_eq!(search(&st, K::Subject(s("grüße aus"))), vec![2]);
    // ISO-8859-1 quoted-printable body, UTF-8 search string.
    assert_eq!(search(&st, K::Body(s("CRÈME brûlée"))), vec![1]);
    // base64 text part.
    assert_eq!(search(&st, K::Body(s("zwiebelkuchen"))), vec![2]);
    // Only inside text/html, tags stripped.
    assert_eq!(search(&st, K::Body(s("in hypertext here"))), vec![3]);
    assert!(search(&st, K::Body(s("<b>"))).is_empty());
    // TEXT covers headers, bodies and attachment names.
    assert_eq!(search(&st, K::Text(s("invoice-2024"))), vec![2]);
    assert_eq!(search(&st, K::Text(s("newsletter"))), vec![3]);
    assert_eq!(search(&st, K::Text(s("x-tag"))), vec![1]);
    // Undecoded forms do not match.
    assert!(search(&st, K::Body(s("=E9"))).is_empty());
}

#[test]
fn not_or_and_nesting() {
    let (_d, st) = fixture();
    assert_eq!(search(&st, K::Not(Box::new(K::Seen))), vec![2, 3]);
    assert_eq!(
        search(&st, K::Or(Box::new(K::Seen), Box::new(K::Draft))),
        vec![1, 3]
    );
    assert_eq!(
        search(
            &st,
            K::And(vec![
                K::Not(Box::new(K::Or(Box::new(K::Seen), Box::new(K::Flagged)))),
                K::Body(s("hypertext")),
            ])
        ),
        vec![3]
    );
    assert_eq!(
        search(
            &st,
            K::Or(
                Box::new(K::Not(Box::new(K::Body(s("zwiebel"))))),
                Box::new(K::And(vec![K::Deleted, K::Subject(s("münchen"))]))
            )
        ),
        vec![1, 2, 3]
    );
    assert_eq!(search(&st, K::And(vec![])), vec![1, 2, 3]);
    assert!(search(&st, K::Not(Box::new(K::All))).is_empty());
}

#[test]
fn cheap_keys_avoid_files() {
    let (dir, st) = fixture();
    // Their files written from the append journal, then removed:
    // index-only keys still answer.
    st.flush_journal().unwrap();
    for entry in std::fs::read_dir(common::root_of(&dir).join("cur")).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    assert_eq!(search(&st, K::And(vec![K::Seen, K::Larger(10)])), vec![1]);
    // A cheap false conjunct decides without the file.
    assert!(search(&st, K::And(vec![K::Draft, K::Seen, K::Body(s("x"))])).is_empty());
    // Text keys skip vanished files.
    assert!(search(&st, K::Body(s("caf"))).is_empty());
}

#[test]
fn cancelled_search_stops() {
    let (_d, st) = fixture();
    let cancel = AtomicBool::new(true);
    let err = st
        .search("INBOX", 0, &K::Text(s("x")), &cancel)
        .unwrap_err();
    assert!(matches!(err, StoreError::Cancelled));
}

#[test]
fn cancel_set_from_another_thread() {
    let (_d, st) = temp_store();
    for i in 0..300 {
        add(
            &st,
            &format!("Subject: m{i}\r\n\r\nbody {i}\r\n"),
            &[],
            T0,
            0,
        );
    }
    let cancel = std::sync::Arc::new(AtomicBool::new(false));
    let flag = std::sync::Arc::clone(&cancel);
    let setter = std::thread::spawn(move || {
        flag.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    setter.join().unwrap();
    let r = st.search("INBOX", 0, &K::Text(s("nomatch")), &cancel);
    assert!(matches!(r, Err(StoreError::Cancelled)));
}

#[test]
fn stale_uidvalidity_is_refused() {
    let (_d, st) = fixture();
    let v = st.status("INBOX").unwrap().uidvalidity;
    let r = st.search("INBOX", v.wrapping_add(1), &K::All, &AtomicBool::new(false));
    assert!(matches!(r, Err(StoreError::UidValidityChanged { .. })));
    assert_eq!(
        st.search("INBOX", v, &K::All, &AtomicBool::new(false))
            .unwrap()
            .uids
            .len(),
        3
    );
}

/// Forwarded mail: BODY and TEXT find words in a `message/rfc822` part,
/// in its header fields, its text, a base64 part inside it, and in a
/// forwarded message that is itself base64-encoded; words of the outer
/// header stay header-only (BODY does not find them).
/// What mail-parser reads out of a structured field (a Received's hosts,
/// a Content-Type's parameters, a Date as written) is still found by
/// HEADER and TEXT, and TEXT covers the header fields of the MIME parts
/// (RFC 9051 §6.4.4: the header or body of the message), as Dovecot's
/// does; BODY stays the decoded text.
#[test]
fn header_and_text_match_fields_as_written_and_part_headers() {
    let (_dir, st) = temp_store();
    let relayed = add(
        &st,
        "Received: from mx.example.net (mx.example.net [192.0.2.7])\r\n\
\tby mail.example.org with ESMTPS id 42; Wed, 03 Jan 2024 12:00:00 +0000\r\n\
Date: Wed, 03 Jan 2024 12:00:00 +0100\r\nFrom: a@example.org\r\n\
Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= relayed\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed;\r\n boundary=\"Sep-XYZ\"\r\n\r\n\
--Sep-XYZ\r\nContent-Type: text/plain\r\n\r\nhello text\r\n\
--Sep-XYZ\r\nContent-Type: application/octet-stream; name=\"d.bin\"\r\n\
Content-Disposition: attachment; filename=\"d.bin\"; creation-date=\"Mon, 01 Jan 2024\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\nAAAA\r\n--Sep-XYZ--\r\n",
        &[],
        T0,
        0,
    );
    let plain = add(
        &st,
        "From: b@example.org\r\nSubject: plain\r\nContent-Type: text/plain\r\n\r\nnothing\r\n",
        &[],
        T0,
        0,
    );
    let header = |name: &str, value: &str| search(&st, K::Header(s(name), s(value)));
    assert_eq!(header("Received", "MX.example.net"), vec![relayed]);
    assert_eq!(header("received", "[192.0.2.7]"), vec![relayed]);
    assert_eq!(header("Date", "Wed, 03 Jan"), vec![relayed]);
    assert_eq!(
        header("Content-Type", "boundary=\"sep-xyz\""),
        vec![relayed]
    );
    // Both forms: the parsed type, and RFC 2047 words decoded as written.
    assert_eq!(header("Content-Type", "text/plain"), vec![plain]);
    assert_eq!(header("Subject", "grüße relayed"), vec![relayed]);
    for word in [
        "ESMTPS",
        "application/octet-stream",
        "creation-date",
        "attachment",
    ] {
        assert_eq!(search(&st, K::Text(s(word))), vec![relayed], "TEXT {word}");
        assert!(search(&st, K::Body(s(word))).is_empty(), "BODY {word}");
    }
    assert_eq!(search(&st, K::Text(s("text/plain"))), vec![relayed, plain]);
    assert!(search(&st, K::Text(s("=?UTF-8?Q?"))).is_empty());
}

#[test]
fn body_and_text_find_words_inside_forwarded_messages() {
    let (_dir, st) = temp_store();
    let forwarded = add(
        &st,
        "From: a@example.org\r\nSubject: Fwd: plans\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=outer\r\n\r\n\
--outer\r\nContent-Type: text/plain\r\n\r\nSee below.\r\n\
--outer\r\nContent-Type: message/rfc822\r\n\r\n\
From: Zebediah <z@example.net>\r\nSubject: quarterly marmalade\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/alternative; boundary=inner\r\n\r\n\
--inner\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nvisible periwinkle\r\n\
--inner\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n\
aGlkZGVuIGFhcmR2YXJrCg==\r\n\
--inner--\r\n\
--outer--\r\n",
        &[],
        T0,
        0,
    );
    let encoded = add(
        &st,
        "From: b@example.org\r\nSubject: Fwd: other\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=o\r\n\r\n\
--o\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n\
U3ViamVjdDogaW5uZXIKCnNhcGhpcmUgbGFnb29uCg==\r\n\
--o--\r\n",
        &[],
        T0,
        0,
    );
    let other = add(&st, "Subject: plain\r\n\r\nnothing here\r\n", &[], T0, 0);
    for word in ["periwinkle", "AARDVARK", "marmalade", "Zebediah"] {
        assert_eq!(
            search(&st, K::Body(s(word))),
            vec![forwarded],
            "BODY {word}"
        );
        assert_eq!(
            search(&st, K::Text(s(word))),
            vec![forwarded],
            "TEXT {word}"
        );
    }
    assert_eq!(search(&st, K::Body(s("saphire lagoon"))), vec![encoded]);
    assert_eq!(search(&st, K::Body(s("plans"))), Vec::<u32>::new());
    assert_eq!(search(&st, K::Text(s("plans"))), vec![forwarded]);
    assert_eq!(search(&st, K::Body(s("nothing"))), vec![other]);
}

#[test]
fn east_asian_charsets_are_decoded() {
    let (_d, st) = temp_store();
    // An ISO-2022-JP encoded word ("日本語の件名"), a Shift_JIS 8bit part
    // ("こんにちは世界"), a GB2312 base64 part ("中文邮件正文") and an
    // EUC-KR 8bit part ("한국어 본문").
    let mut raw: Vec<u8> = b"From: a@example.jp\r\nSubject: =?ISO-2022-JP?B?GyRCRnxLXDhsJE43b0w+GyhC?=\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=Shift_JIS\r\nContent-Transfer-Encoding: 8bit\r\n\r\n".to_vec();
    raw.extend_from_slice(b"\x82\xb1\x82\xf1\x82\xc9\x82\xbf\x82\xcd\x90\xa2\x8aE\r\n");
    raw.extend_from_slice(b"--b\r\nContent-Type: text/plain; charset=gb2312\r\nContent-Transfer-Encoding: base64\r\n\r\n1tDOxNPKvP7V/c7E\r\n");
    raw.extend_from_slice(b"--b\r\nContent-Type: text/plain; charset=euc-kr\r\nContent-Transfer-Encoding: 8bit\r\n\r\n");
    raw.extend_from_slice(b"\xc7\xd1\xb1\xb9\xbe\xee \xba\xbb\xb9\xae\r\n--b--\r\n");
    let date = InternalDate {
        secs: T0,
        offset_minutes: 0,
    };
    let uid = common::append_dated(&st, "INBOX", &raw, &[], date).uid;
    assert_eq!(search(&st, K::Subject(s("件名"))), vec![uid]);
    assert_eq!(search(&st, K::Body(s("世界"))), vec![uid]);
    assert_eq!(search(&st, K::Body(s("邮件正文"))), vec![uid]);
    assert_eq!(search(&st, K::Text(s("본문"))), vec![uid]);
    let v = st.status("INBOX").unwrap().uidvalidity;
    let structure = st.message_structure("INBOX", v, uid).unwrap();
    assert_eq!(structure.preview, "こんにちは世界");
}

/// BODY over messages whose structure is cached (fetched before) reads
/// only the parts that hold text, found from the structure, and finds
/// what it found before: text of plain and encoded parts, forwarded
/// messages and attachment names, never the attachment's encoded bytes;
/// with bare LFs too (the structure counts CRLF).
#[test]
fn body_finds_the_same_once_the_structure_is_cached() {
    let (_dir, st) = temp_store();
    let attachment = "--b\r\nContent-Type: application/octet-stream; name=\"ledger.bin\"\r\n\
Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"ledger.bin\"\r\n\r\n\
cGVyaXdpbmtsZSBpbiB0aGUgYXR0YWNobWVudAo=\r\n";
    let with_attachment = format!(
        "Subject: report\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
marmalade caf=C3=A9 figures\r\n{attachment}--b\r\nContent-Type: message/rfc822\r\n\r\n\
From: Zebediah <z@example.net>\r\nSubject: aardvark\r\n\r\nforwarded lagoon\r\n--b--\r\n"
    );
    let uids = [
        add(&st, &with_attachment, &[], T0, 0),
        add(&st, &with_attachment.replace("\r\n", "\n"), &[], T0, 0),
        add(&st, "Subject: plain\r\n\r\nmarmalade only\r\n", &[], T0, 0),
    ];
    let words = [
        "marmalade",
        "café",
        "ledger.bin",
        "Zebediah",
        "aardvark",
        "lagoon",
        "attachment",
        "cGVyaXdpbmtsZ",
        "report",
    ];
    let before: Vec<Vec<u32>> = words.iter().map(|w| search(&st, K::Body(s(w)))).collect();
    for uid in uids {
        st.message_structure("INBOX", 0, uid).unwrap();
    }
    let after: Vec<Vec<u32>> = words.iter().map(|w| search(&st, K::Body(s(w)))).collect();
    assert_eq!(after, before);
    let both = uids[..2].to_vec();
    assert_eq!(
        after[..6],
        [
            uids.to_vec(),
            both.clone(),
            both.clone(),
            both.clone(),
            both.clone(),
            both
        ]
    );
    assert!(after[6].is_empty() && after[7].is_empty() && after[8].is_empty());
    // A header key beside BODY reads the header from the same start.
    let subject_and_body = K::And(vec![K::Subject(s("report")), K::Body(s("lagoon"))]);
    assert_eq!(search(&st, subject_and_body), uids[..2]);

    // The parts are the cached structure's: retype the first message's
    // attachment as text in its file (same length, so the cached offsets
    // still hold). BODY, which goes by the structure, still skips it;
    // TEXT, which parses the message, now reads it decoded.
    let cur = st.root().join("cur");
    let file = std::fs::read_dir(&cur)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| std::fs::read(p).unwrap() == with_attachment.as_bytes())
        .expect("the first message's file");
    let retyped = with_attachment.replace("application/octet-stream", "text/plain              ");
    assert_eq!(retyped.len(), with_attachment.len());
    std::fs::write(&file, retyped).unwrap();
    assert_eq!(search(&st, K::Body(s("periwinkle"))), Vec::<u32>::new());
    assert_eq!(search(&st, K::Text(s("periwinkle"))), [uids[0]]);
}

//! What real mail clients send when they connect, replayed with the test
//! kit: a Thunderbird-like session (lower-case commands, ID, ENABLE
//! CONDSTORE and UTF8=ACCEPT, LIST (SUBSCRIBED) and (SPECIAL-USE), SELECT
//! (CONDSTORE), UID FETCH ... (CHANGEDSINCE n), header fetches, IDLE) and
//! a mutt-like one (ENABLE QRESYNC, LIST "" "", LSUB, FETCH of headers,
//! UID COPY, EXPUNGE answered with VANISHED, then a reconnect with SELECT
//! (QRESYNC ...)). The kit parses every response, so each must be
//! well-formed; each answer is checked against what the RFCs require.

use mailkeep_testkit::{BlockingClient, Reply, Value, plain};

use crate::harness::{Server, TestDir, make_message};

const USER: &str = "client";
const PASS: &str = "client-secret-4";

/// The fields Thunderbird fetches for its message list.
const THUNDERBIRD_FIELDS: &str = "From To Cc Bcc Subject Date Message-ID Priority X-Priority \
                                  References Newsgroups In-Reply-To Content-Type Reply-To";

/// The fields mutt fetches for its index.
const MUTT_FIELDS: &str = "DATE FROM SENDER SUBJECT TO CC MESSAGE-ID REFERENCES CONTENT-TYPE \
                           CONTENT-DESCRIPTION IN-REPLY-TO REPLY-TO LINES LIST-POST X-LABEL";

/// INBOX with four messages (`c1`..`c4`; c1 seen, c3 flagged); returns
/// their bytes.
fn populate(server: &Server) -> Vec<Vec<u8>> {
    let mut c = server.login(USER, PASS);
    let mut messages = Vec::new();
    for (i, flags) in [&["\\Seen"][..], &[], &["\\Flagged"], &[]]
        .iter()
        .enumerate()
    {
        let m = make_message(&format!("c{}", i + 1), 1_200 + i * 300);
        let r = c.append("INBOX", flags, &m).expect("APPEND");
        assert!(r.is_ok(), "APPEND: {r:?}");
        messages.push(m);
    }
    c.logout();
    messages
}

/// The header lines of `message` whose names are in `fields` (space
/// separated, any case), in the message's order, and the blank line: what
/// BODY[HEADER.FIELDS (...)] returns.
fn header_fields(message: &[u8], fields: &str) -> Vec<u8> {
    let wanted: Vec<String> = fields
        .split_whitespace()
        .map(str::to_ascii_lowercase)
        .collect();
    let text = String::from_utf8_lossy(message);
    let header = text.split("\r\n\r\n").next().expect("a header");
    let mut out = String::new();
    for line in header.split("\r\n") {
        let name = line.split(':').next().unwrap_or("").to_ascii_lowercase();
        if wanted.contains(&name) {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str("\r\n");
    out.into_bytes()
}

/// Asserts no response of `r` is a BAD or NO (untagged or tagged).
#[track_caller]
fn assert_clean(r: &Reply, what: &str) {
    assert!(r.is_ok(), "{what}: {r:?}");
    assert!(
        r.untagged_status().all(|s| !matches!(
            s.status,
            mailkeep_testkit::Status::Bad | mailkeep_testkit::Status::No
        )),
        "{what}: an untagged BAD or NO: {r:?}"
    );
}

/// The words of the ENABLED response(s).
fn enabled(r: &Reply) -> Vec<String> {
    r.untagged("ENABLED").flat_map(|d| d.words()).collect()
}

/// `(name, sorted attributes)` of each LIST/LSUB response named `kind`.
fn listed(r: &Reply, kind: &str) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = r
        .list(kind)
        .into_iter()
        .map(|l| {
            assert_eq!(l.delimiter.as_deref(), Some("."), "{kind} delimiter: {r:?}");
            let mut attrs: Vec<String> = l
                .attributes
                .iter()
                .map(|a| a.to_ascii_lowercase())
                .collect();
            attrs.sort();
            (l.name, attrs)
        })
        .collect();
    out.sort();
    out
}

/// `(uid, flags without \Recent, modseq)` of every FETCH response.
fn fetched(r: &Reply) -> Vec<(u32, Vec<String>, Option<u64>)> {
    let mut out: Vec<_> = r
        .fetches()
        .iter()
        .map(|f| {
            let uid = f
                .uid()
                .unwrap_or_else(|| panic!("a FETCH without UID: {r:?}"));
            let mut flags: Vec<String> = f
                .flags()
                .unwrap_or_default()
                .into_iter()
                .filter(|fl| !fl.eq_ignore_ascii_case("\\Recent"))
                .collect();
            flags.sort();
            (uid, flags, f.number("MODSEQ"))
        })
        .collect();
    out.sort();
    out
}

fn strings(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| (*w).to_owned()).collect()
}

#[test]
fn a_thunderbird_like_session_gets_well_formed_answers_as_the_rfcs_say() {
    let dir = TestDir::new();
    let server = Server::start(&dir);
    server.add_user(USER, PASS);
    let messages = populate(&server);

    let mut c = server.connect();
    let r = c.ok("capability");
    let caps = r.capabilities();
    for cap in ["IMAP4rev1", "AUTH=PLAIN", "SASL-IR", "ID", "ENABLE", "IDLE"] {
        assert!(
            caps.iter().any(|c| c == cap),
            "{cap} before login: {caps:?}"
        );
    }
    let r = c
        .authenticate("PLAIN", Some(&plain(USER, PASS)), |_| None)
        .expect("AUTHENTICATE");
    assert_clean(&r, "authenticate PLAIN with an initial response");
    let caps = r.capabilities();
    for cap in [
        "CONDSTORE",
        "QRESYNC",
        "UTF8=ACCEPT",
        "SPECIAL-USE",
        "LIST-EXTENDED",
        "MOVE",
        "UIDPLUS",
        "NAMESPACE",
        "IDLE",
    ] {
        assert!(caps.iter().any(|c| c == cap), "{cap} after login: {r:?}");
    }

    let r = c.ok("ID (\"name\" \"Thunderbird\" \"version\" \"128.5.0\")");
    let id: Vec<Value> = r
        .untagged("ID")
        .next()
        .and_then(|d| d.values.first())
        .and_then(Value::as_list)
        .map(<[Value]>::to_vec)
        .unwrap_or_else(|| panic!("* ID (...): {r:?}"));
    let pairs: Vec<Option<String>> = id.iter().map(Value::text).collect();
    assert_eq!(
        pairs,
        [
            Some("name".to_owned()),
            Some("mailkeep".to_owned()),
            Some("version".to_owned()),
            Some(env!("CARGO_PKG_VERSION").to_owned()),
        ]
    );
    let r = c.ok("enable CONDSTORE");
    assert_eq!(enabled(&r), strings(&["CONDSTORE"]), "{r:?}");
    let r = c.ok("enable UTF8=ACCEPT");
    assert_eq!(enabled(&r), strings(&["UTF8=ACCEPT"]), "{r:?}");
    let r = c.ok("enable CONDSTORE");
    assert_eq!(
        enabled(&r),
        Vec::<String>::new(),
        "ENABLE of what is enabled already lists nothing (RFC 5161 §3.1): {r:?}"
    );
    c.ok("namespace");

    let r = c.ok("list (subscribed) \"\" \"*\"");
    let names: Vec<String> = listed(&r, "LIST").into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        strings(&["Drafts", "Junk", "Sent", "Trash"]),
        "{r:?}"
    );
    let r = c.ok("list (special-use) \"\" \"*\"");
    let uses: Vec<(String, Vec<String>)> = listed(&r, "LIST")
        .into_iter()
        .map(|(n, a)| {
            (
                n,
                // \Marked or \Unmarked (anything new since a SELECT) aside.
                a.into_iter()
                    .filter(|a| {
                        !["\\hasnochildren", "\\marked", "\\unmarked"].contains(&a.as_str())
                    })
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        uses,
        [
            ("Drafts".to_owned(), strings(&["\\drafts"])),
            ("Junk".to_owned(), strings(&["\\junk"])),
            ("Sent".to_owned(), strings(&["\\sent"])),
            ("Trash".to_owned(), strings(&["\\trash"])),
        ]
    );

    let r = c.ok("select \"INBOX\" (CONDSTORE)");
    assert_clean(&r, "select (CONDSTORE)");
    assert_eq!(r.exists(), Some(4), "{r:?}");
    assert_eq!(r.code_number("UIDNEXT"), Some(5), "{r:?}");
    let h0 = r
        .code_number("HIGHESTMODSEQ")
        .unwrap_or_else(|| panic!("SELECT (CONDSTORE) answers [HIGHESTMODSEQ]: {r:?}"));
    assert!(r.has_code("READ-WRITE"), "{r:?}");

    let r = c.ok("UID fetch 1:* (FLAGS)");
    let all: Vec<(u32, Vec<String>)> = fetched(&r).into_iter().map(|(u, f, _)| (u, f)).collect();
    assert_eq!(
        all,
        [
            (1, strings(&["\\Seen"])),
            (2, vec![]),
            (3, strings(&["\\Flagged"])),
            (4, vec![]),
        ]
    );
    let r = c.ok(&format!("UID fetch 1:* (FLAGS) (CHANGEDSINCE {h0})"));
    assert!(r.fetches().is_empty(), "nothing changed since {h0}: {r:?}");

    // Another client reads message 2: Thunderbird hears it at NOOP, with
    // UID and MODSEQ (RFC 7162 §3.1 once CONDSTORE is enabled).
    let mut other = server.login(USER, PASS);
    other.ok("SELECT INBOX");
    other.ok("UID STORE 2 +FLAGS.SILENT (\\Seen)");
    let r = c.ok("noop");
    let heard = fetched(&r);
    assert!(
        matches!(heard.as_slice(), [(2, f, Some(m))] if *f == strings(&["\\Seen"]) && *m > h0),
        "an unsolicited FETCH with UID 2, FLAGS (\\Seen) and a MODSEQ above {h0}: {r:?}"
    );
    let r = c.ok(&format!("UID fetch 1:* (FLAGS) (CHANGEDSINCE {h0})"));
    let changed = fetched(&r);
    assert!(
        matches!(changed.as_slice(), [(2, f, Some(m))] if *f == strings(&["\\Seen"]) && *m > h0),
        "CHANGEDSINCE {h0} returns only UID 2, with its MODSEQ: {r:?}"
    );

    let r = c.ok("UID store 3 +FLAGS (\\Answered)");
    let stored = fetched(&r);
    assert!(
        matches!(stored.as_slice(), [(3, f, Some(_))] if *f == strings(&["\\Answered", "\\Flagged"])),
        "STORE answers FETCH with UID, FLAGS and MODSEQ under CONDSTORE: {r:?}"
    );

    let r = c.ok(&format!(
        "UID fetch 1:4 (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS ({THUNDERBIRD_FIELDS})])"
    ));
    assert_eq!(r.fetches().len(), 4, "{r:?}");
    for f in r.fetches() {
        let uid = f.uid().expect("UID");
        let m = &messages[uid as usize - 1];
        assert_eq!(f.number("RFC822.SIZE"), Some(m.len() as u64), "UID {uid}");
        let name = format!("BODY[HEADER.FIELDS ({THUNDERBIRD_FIELDS})]");
        let got = f
            .bytes(&name)
            .unwrap_or_else(|| panic!("{name} of UID {uid}: {:?}", f.names()));
        assert_eq!(
            String::from_utf8_lossy(got),
            String::from_utf8_lossy(&header_fields(m, THUNDERBIRD_FIELDS)),
            "UID {uid}"
        );
    }

    // IDLE while another client delivers.
    let mut idle = c.idle().expect("IDLE");
    let extra = make_message("c5", 900);
    let r = other.append("INBOX", &[], &extra).expect("APPEND");
    assert!(r.is_ok(), "{r:?}");
    idle.wait_for(|resp| resp.is_data("EXISTS") && resp.data().and_then(|d| d.number) == Some(5))
        .expect("* 5 EXISTS during IDLE");
    let r = idle.done().expect("DONE");
    assert_clean(&r, "IDLE");
    other.logout();
    c.logout();
}

/// A new connection as mutt opens one: CAPABILITY, LOGIN, ENABLE QRESYNC,
/// then `select`. Returns the connection and the SELECT's reply.
fn mutt_connect(server: &Server, select: &str) -> (BlockingClient, Reply) {
    let mut c = server.connect();
    c.ok("CAPABILITY");
    let r = c.login(USER, PASS).expect("LOGIN");
    assert_clean(&r, "LOGIN");
    let r = c.ok("ENABLE QRESYNC");
    assert!(
        enabled(&r).iter().any(|w| w == "QRESYNC"),
        "ENABLE QRESYNC answers ENABLED QRESYNC: {r:?}"
    );
    let r = c.ok(select);
    assert_clean(&r, select);
    (c, r)
}

#[test]
fn a_mutt_like_session_and_its_qresync_reconnect_get_what_the_rfcs_say() {
    let dir = TestDir::new();
    let server = Server::start(&dir);
    server.add_user(USER, PASS);
    let messages = populate(&server);

    let mut c = server.connect();
    c.ok("CAPABILITY");
    let r = c.login(USER, PASS).expect("LOGIN");
    assert_clean(&r, "LOGIN");
    let r = c.ok("ENABLE QRESYNC");
    assert!(enabled(&r).iter().any(|w| w == "QRESYNC"), "{r:?}");
    let r = c.ok("LIST \"\" \"\"");
    assert_eq!(
        listed(&r, "LIST"),
        [(String::new(), strings(&["\\noselect"]))],
        "LIST \"\" \"\" gives the delimiter and the root: {r:?}"
    );
    let r = c.ok("LSUB \"\" \"*\"");
    let names: Vec<String> = listed(&r, "LSUB").into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        strings(&["Drafts", "Junk", "Sent", "Trash"]),
        "{r:?}"
    );

    let r = c.ok("SELECT \"INBOX\"");
    let validity = r.code_number("UIDVALIDITY").expect("UIDVALIDITY");
    let h0 = r
        .code_number("HIGHESTMODSEQ")
        .unwrap_or_else(|| panic!("SELECT after ENABLE QRESYNC answers [HIGHESTMODSEQ]: {r:?}"));
    let r = c.ok(&format!(
        "FETCH 1:4 (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER.FIELDS ({MUTT_FIELDS})])"
    ));
    assert_eq!(r.fetches().len(), 4, "{r:?}");
    for f in r.fetches() {
        let uid = f.uid().expect("UID");
        assert_eq!(uid, f.seq, "UIDs equal numbers in a new INBOX");
        let m = &messages[uid as usize - 1];
        assert_eq!(f.number("RFC822.SIZE"), Some(m.len() as u64));
        assert!(f.item("INTERNALDATE").is_some(), "{r:?}");
        let got = f
            .bytes(&format!("BODY[HEADER.FIELDS ({MUTT_FIELDS})]"))
            .unwrap_or_else(|| panic!("the header fields: {r:?}"));
        assert_eq!(
            String::from_utf8_lossy(got),
            String::from_utf8_lossy(&header_fields(m, MUTT_FIELDS))
        );
    }

    // Read, save to Trash, delete, expunge: as mutt does.
    c.ok("UID STORE 4 +FLAGS.SILENT (\\Seen)");
    let r = c.ok("UID COPY 2 \"Trash\"");
    let (_, from, to) = r
        .copyuid()
        .unwrap_or_else(|| panic!("UID COPY answers [COPYUID]: {r:?}"));
    assert_eq!((from, to), (vec![2], vec![1]), "{r:?}");
    c.ok("UID STORE 2 +FLAGS.SILENT (\\Deleted)");
    let r = c.ok("EXPUNGE");
    assert_eq!(
        r.vanished(),
        [2],
        "after ENABLE QRESYNC, EXPUNGE answers VANISHED 2: {r:?}"
    );
    assert!(
        r.expunged().is_empty(),
        "and no * n EXPUNGE (RFC 7162 §3.2.10): {r:?}"
    );
    assert!(
        r.untagged("VANISHED").all(|d| !d
            .values
            .first()
            .is_some_and(|v| matches!(v, Value::List(_)))),
        "VANISHED of an EXPUNGE is not (EARLIER): {r:?}"
    );
    c.ok("CLOSE");
    c.logout();

    // Reconnect and resynchronize in one SELECT.
    let (c, r) = mutt_connect(
        &server,
        &format!("SELECT \"INBOX\" (QRESYNC ({validity} {h0} 1:4))"),
    );
    assert_eq!(r.exists(), Some(3), "{r:?}");
    let earlier: Vec<&mailkeep_testkit::Data> = r.untagged("VANISHED").collect();
    assert!(
        earlier.len() == 1
            && earlier[0]
                .values
                .first()
                .and_then(Value::as_list)
                .is_some_and(|l| matches!(l, [v] if v.is_atom("EARLIER"))),
        "SELECT (QRESYNC) answers * VANISHED (EARLIER) ...: {r:?}"
    );
    assert_eq!(r.vanished(), [2], "{r:?}");
    let changed = fetched(&r);
    assert!(
        matches!(changed.as_slice(), [(4, f, Some(m))] if *f == strings(&["\\Seen"]) && *m > h0),
        "SELECT (QRESYNC) sends the flags changed since {h0}: only UID 4, with MODSEQ: {r:?}"
    );
    assert!(
        r.code_number("HIGHESTMODSEQ").is_some_and(|h| h > h0),
        "{r:?}"
    );
    c.logout();
}

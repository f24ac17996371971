//! The parser on responses shaped as RFC 9051's examples (and RFC 3516,
//! 4731, 5256, 7162 for literal8, ESEARCH, THREAD and VANISHED).

use crate::reply::Reply;
use crate::response::{Kind, Response, Status};
use crate::value::Value;

fn parse(text: &[u8]) -> Response {
    Response::parse(text.to_vec()).unwrap_or_else(|e| panic!("{e}"))
}

fn reply(lines: &[&[u8]]) -> Reply {
    let (last, rest) = lines.split_last().unwrap();
    Reply::new(rest.iter().map(|l| parse(l)).collect(), parse(last)).unwrap()
}

fn atom(a: &str) -> Value {
    Value::Atom(a.into())
}

fn quoted(s: &str) -> Value {
    Value::Quoted(s.as_bytes().to_vec())
}

#[test]
fn tagged_status_with_a_code_and_its_arguments() {
    let r = reply(&[b"A003 OK [APPENDUID 38505 3955] APPEND completed\r\n"]);
    assert!(r.is_ok());
    assert_eq!(r.code().unwrap().name, "APPENDUID");
    assert_eq!(r.code().unwrap().number(0), Some(38505));
    assert_eq!(r.appenduid(), Some((38505, 3955)));
    assert_eq!(r.text(), "APPEND completed");

    let r = reply(&[b"A004 OK [COPYUID 38505 304,319:320 3956:3958] Done\r\n"]);
    assert_eq!(
        r.copyuid(),
        Some((38505, vec![304, 319, 320], vec![3956, 3957, 3958]))
    );
}

#[test]
fn a_code_without_arguments_or_text() {
    let r = reply(&[b"a NO [ALREADYEXISTS] Mailbox \"that\" already exists\r\n"]);
    assert_eq!(r.status(), Status::No);
    assert!(r.has_code("alreadyexists"));
    assert_eq!(r.text(), "Mailbox \"that\" already exists");
    let closed = parse(b"* OK [CLOSED]\r\n");
    let s = closed.status().unwrap();
    assert_eq!((s.tag.as_deref(), s.status), (None, Status::Ok));
    assert!(s.code.as_ref().unwrap().is("CLOSED"));
    assert_eq!(s.text, "");
}

#[test]
fn a_select_reply_gives_its_codes_counts_and_flags() {
    let r = reply(&[
        b"* 172 EXISTS\r\n",
        b"* OK [UIDVALIDITY 3857529045] UIDs valid\r\n",
        b"* OK [UIDNEXT 4392] Predicted next UID\r\n",
        b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n",
        b"* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Limited\r\n",
        b"* LIST () \"/\" INBOX\r\n",
        b"A142 OK [READ-WRITE] SELECT completed\r\n",
    ]);
    assert_eq!(r.exists(), Some(172));
    assert_eq!(r.code_number("UIDVALIDITY"), Some(3857529045));
    assert_eq!(r.code_number("uidnext"), Some(4392));
    assert_eq!(
        r.code_named("PERMANENTFLAGS").unwrap().words(),
        ["\\Deleted", "\\Seen", "\\*"]
    );
    let flags = r.untagged("FLAGS").next().unwrap();
    assert_eq!(flags.values[0].as_list().unwrap().len(), 5);
    assert!(r.has_code("READ-WRITE"));
    let listed = r.list("LIST");
    assert_eq!(listed[0].name, "INBOX");
    assert_eq!(listed[0].delimiter.as_deref(), Some("/"));
}

#[test]
fn a_fetch_with_envelope_and_body_structure_is_a_tree() {
    let r = parse(
        b"* 12 FETCH (FLAGS (\\Seen) INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" \
RFC822.SIZE 4286 ENVELOPE (\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" \
\"IMAP4rev2 WG mtg summary and minutes\" ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) \
((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) \
((NIL NIL \"imap\" \"cac.washington.edu\")) ((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")\
(\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) NIL NIL \"<B27397-0100000@cac.washington.edu>\") \
BODY (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 3028 92))\r\n",
    );
    let data = r.data().unwrap();
    let f = data.fetch().unwrap();
    assert_eq!(f.seq, 12);
    assert_eq!(
        f.names(),
        ["FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"]
    );
    assert!(f.has_flag("\\seen"));
    assert_eq!(f.number("RFC822.SIZE"), Some(4286));
    let envelope = f.item("ENVELOPE").unwrap().as_list().unwrap();
    assert_eq!(envelope.len(), 10);
    assert_eq!(
        envelope[1].as_str(),
        Some("IMAP4rev2 WG mtg summary and minutes")
    );
    let cc = envelope[6].as_list().unwrap();
    assert_eq!(cc.len(), 2, "two addresses side by side: {cc:?}");
    assert_eq!(cc[1].as_list().unwrap()[2], quoted("KLENSIN"));
    assert!(envelope[7].is_nil());
    let body = f.item("BODY").unwrap().as_list().unwrap();
    assert_eq!(
        body[2],
        Value::List(vec![quoted("CHARSET"), quoted("US-ASCII")])
    );
    assert_eq!(body[6], Value::Number(3028));
}

#[test]
fn literals_sections_and_origins_in_fetch_items() {
    let header = b"Subject: hi\r\n\r\n";
    let mut raw = b"* 7 FETCH (UID 9 BODY[HEADER.FIELDS (SUBJECT FROM)] {15}\r\n".to_vec();
    raw.extend_from_slice(header);
    raw.extend_from_slice(
        b" BODY[]<0> {3}\r\nabc BINARY[1] ~{4}\r\n\x00\x01\r\n BINARY.SIZE[1] 4)\r\n",
    );
    let r = parse(&raw);
    let f = r.data().unwrap().fetch().unwrap();
    assert_eq!(f.uid(), Some(9));
    assert_eq!(
        f.bytes("body[header.fields (subject from)]"),
        Some(&header[..])
    );
    assert_eq!(f.bytes("BODY[]<0>"), Some(&b"abc"[..]));
    assert_eq!(
        f.item("BINARY[1]"),
        Some(&Value::Literal8(b"\x00\x01\r\n".to_vec()))
    );
    assert_eq!(f.number("BINARY.SIZE[1]"), Some(4));
    assert_eq!(r.data().unwrap().values[0].literal_bytes(), 22);
}

#[test]
fn quoted_strings_unescape_and_nil_is_not_a_string() {
    let r = parse(b"* LIST (\\Noselect) \"/\" \"a \\\"b\\\" \\\\c\"\r\n");
    let d = r.data().unwrap();
    assert_eq!(d.values[2].as_str(), Some("a \"b\" \\c"));
    let r = parse(b"* LIST (\\Noselect) NIL \"\"\r\n");
    let listed = Reply::new(vec![r], parse(b"t OK done\r\n"))
        .unwrap()
        .list("LIST");
    assert_eq!(listed[0].delimiter, None);
    assert_eq!(listed[0].name, "");
}

#[test]
fn esearch_parts() {
    let r = reply(&[
        b"* ESEARCH (TAG \"A283\") ALL 2,10:11\r\n",
        b"A283 OK completed\r\n",
    ]);
    let e = r.esearch().unwrap();
    assert_eq!(e.tag.as_deref(), Some("A283"));
    assert!(!e.uid);
    assert_eq!(e.all(), Some(vec![2, 10, 11]));
    let e = parse(b"* ESEARCH (TAG \"A285\") UID MIN 7 MAX 3800\r\n")
        .data()
        .unwrap()
        .esearch()
        .unwrap();
    assert!(e.uid);
    assert_eq!((e.min(), e.max(), e.count()), (Some(7), Some(3800), None));
    assert_eq!(e.all(), Some(vec![]), "no ALL: nothing matched");
    let e = parse(b"* ESEARCH (TAG \"a\") UID COUNT 17 MODSEQ 917162500\r\n")
        .data()
        .unwrap()
        .esearch()
        .unwrap();
    assert_eq!((e.count(), e.modseq()), (Some(17), Some(917162500)));
}

#[test]
fn search_thread_vanished_and_expunge() {
    let r = reply(&[
        b"* SEARCH 2 84 882\r\n",
        b"* THREAD (2)(3 6 (4 23)(44 7 96))\r\n",
        b"* VANISHED (EARLIER) 41,43:45\r\n",
        b"* 3 EXPUNGE\r\n",
        b"* 5 EXPUNGE\r\n",
        b"* SEARCH\r\n",
        b"t OK done\r\n",
    ]);
    assert_eq!(r.search(), [2, 84, 882]);
    let thread = r.untagged("THREAD").next().unwrap();
    assert_eq!(thread.values.len(), 2);
    assert_eq!(
        thread.values[1],
        Value::List(vec![
            Value::Number(3),
            Value::Number(6),
            Value::List(vec![Value::Number(4), Value::Number(23)]),
            Value::List(vec![Value::Number(44), Value::Number(7), Value::Number(96)]),
        ])
    );
    assert_eq!(r.vanished(), [41, 43, 44, 45]);
    assert_eq!(r.expunged(), [3, 5]);
}

#[test]
fn capability_status_namespace_and_id() {
    let r = reply(&[
        b"* CAPABILITY IMAP4rev2 STARTTLS AUTH=GSSAPI LOGINDISABLED\r\n",
        b"* STATUS blurdybloop (MESSAGES 231 UIDNEXT 44292)\r\n",
        b"* NAMESPACE ((\"\" \"/\")) ((\"~\" \"/\")) ((\"#shared/\" \"/\")(\"#public/\" \"/\"))\r\n",
        b"* ID (\"name\" \"Cyrus\" \"version\" \"1.5\")\r\n",
        b"* ENABLED CONDSTORE\r\n",
        b"abcd OK CAPABILITY completed\r\n",
    ]);
    assert_eq!(
        r.capabilities(),
        ["IMAP4rev2", "STARTTLS", "AUTH=GSSAPI", "LOGINDISABLED"]
    );
    let status = r.untagged("STATUS").next().unwrap();
    assert_eq!(status.values[0], atom("blurdybloop"));
    assert_eq!(
        status.values[1],
        Value::List(vec![
            atom("MESSAGES"),
            Value::Number(231),
            atom("UIDNEXT"),
            Value::Number(44292)
        ])
    );
    assert_eq!(r.status_item("uidnext"), Some(44292));
    assert_eq!(r.status_item("UNSEEN"), None);
    let ns = r.untagged("NAMESPACE").next().unwrap();
    assert_eq!(ns.values.len(), 3);
    assert_eq!(ns.values[2].as_list().unwrap().len(), 2);
    assert_eq!(r.untagged("ENABLED").next().unwrap().words(), ["CONDSTORE"]);
    let login = reply(&[b"A001 OK [CAPABILITY IMAP4rev2 IDLE] LOGIN completed\r\n"]);
    assert_eq!(login.capabilities(), ["IMAP4rev2", "IDLE"]);
}

#[test]
fn continuations_greetings_and_bye() {
    let c = parse(b"+ Ready for additional command text\r\n");
    assert_eq!(c.continuation(), Some("Ready for additional command text"));
    assert_eq!(parse(b"+ \r\n").continuation(), Some(""));
    assert_eq!(parse(b"+\r\n").continuation(), Some(""));
    let sasl = parse(b"+ YGgGCSqGSIb3EgECAgIAb1kwV6ADAgEFoQMCAQ==\r\n");
    assert_eq!(
        sasl.continuation(),
        Some("YGgGCSqGSIb3EgECAgIAb1kwV6ADAgEFoQMCAQ==")
    );
    let pre = parse(b"* PREAUTH IMAP4rev2 server logged in as Smith\r\n");
    assert_eq!(pre.status().unwrap().status, Status::Preauth);
    let bye = parse(b"* BYE Autologout; idle for too long\r\n");
    assert!(bye.is_bye());
    let alert = parse(b"* OK [ALERT] System shutdown in 10 minutes\r\n");
    assert!(matches!(alert.kind(), Kind::Status(s) if s.code.as_ref().unwrap().is("ALERT")));
}

#[test]
fn status_text_is_text_even_with_brackets_and_braces() {
    let r = reply(&[b"a4 NO [TOOBIG] Literal {999999999} is too big [really]\r\n"]);
    assert!(r.has_code("TOOBIG"));
    assert_eq!(r.text(), "Literal {999999999} is too big [really]");
    // A code whose arguments are free text keeps them raw.
    let r = reply(&[b"a NO [BADCOMPARATOR x \"y] text\r\n"]);
    let code = r.code().unwrap();
    assert!(code.args.is_empty());
    assert_eq!(code.raw_args, "x \"y");
}

#[test]
fn flags_keywords_and_a_nil_keyword_show_as_sent() {
    let r = parse(b"* 1 FETCH (FLAGS (\\Seen $Forwarded NIL) MODSEQ (624140003))\r\n");
    let f = r.data().unwrap().fetch().unwrap();
    assert_eq!(f.flags().unwrap(), ["\\Seen", "$Forwarded", "NIL"]);
    assert_eq!(f.number("MODSEQ"), Some(624140003));
}

#[test]
fn broken_responses_are_errors_that_name_the_place() {
    for bad in [
        &b"* 1 FETCH (UID 1\r\n"[..],
        b"* 1 FETCH (BODY[] {10}\r\nabc)\r\n",
        b"* LIST () \"/\" \"unterminated\r\n",
        b"t1 MAYBE done\r\n",
        b"* 1 FETCH (UID 1)",
        b"* 1 FETCH (UID 1)\n",
        b"* 1 FETCH (BODY[TEXT {3}\r\n",
    ] {
        let e = Response::parse(bad.to_vec()).unwrap_err();
        assert_eq!(e.raw, bad, "{e}");
        assert!(e.at <= bad.len());
    }
}

#[test]
fn debug_output_abbreviates_large_literals() {
    let mut raw = b"* 1 FETCH (BODY[] {5000}\r\n".to_vec();
    raw.extend(std::iter::repeat_n(b'x', 5000));
    raw.extend_from_slice(b")\r\n");
    let shown = format!("{:?}", parse(&raw));
    assert!(shown.len() < 200, "{shown}");
    assert!(shown.contains("{5000}"), "{shown}");
}

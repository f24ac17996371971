#!/usr/bin/env python3
"""Message structure and ordering as a real client reads them, checked with
Python's imaplib against a running mailkeep: FETCH BODYSTRUCTURE, BODY,
ENVELOPE, BODY.PEEK[1.MIME], BINARY.PEEK[n] and BINARY.SIZE of a multipart
message with an attachment and a forwarded message/rfc822 part; SEARCH
TEXT of a word found only inside the forwarded message; SORT and THREAD;
a message appended with bare LF line ends, which comes back with CRLF and
an RFC822.SIZE that counts them; a message with a 2.4 MB attachment,
stored with CRLF and with bare LFs, read in windows, by part and decoded.

Environment: MK_HOST, MK_PORT, MK_USER, MK_PASS (a new account). Exits 0
and prints "imap_mime: all checks passed" when every check holds;
otherwise prints each failure with the exchange that led to it and exits
1. Standard library only.

Run by the Rust end-to-end test `imaplib_checks_message_structure_and_order`
(tests/e2e/python_clients.rs).
"""

import base64
import re

from imapcheck import Suite, fetch_items, parse

CRLF = b"\r\n"

# --- the multipart message ---------------------------------------------------

TEXT_BODY = b"Hello Bob,\r\nGr=C3=BC=C3=9Fe from the report.\r\n"
TEXT_DECODED = "Hello Bob,\r\nGrüße from the report.\r\n".encode("utf-8")
PDF = b"%PDF-1.4\n" + bytes(range(256)) + b"\n%%EOF\n"
_b64 = base64.b64encode(PDF)
PDF_BODY = b"".join(_b64[i:i + 76] + CRLF for i in range(0, len(_b64), 76))
FORWARDED_HEADER = (
    b"From: Eve <eve@example.net>\r\n"
    b"To: Alice Example <alice@example.org>\r\n"
    b"Subject: Old news\r\n"
    b"Date: Sun, 04 Jan 2026 08:30:00 +0000\r\n"
    b"Message-ID: <fwd@example.net>\r\n"
    b"Content-Type: text/plain; charset=us-ascii\r\n"
    b"\r\n"
)
FORWARDED_TEXT = b"The password is zanzibarique, remember it.\r\n"
FORWARDED = FORWARDED_HEADER + FORWARDED_TEXT
PART1_MIME = b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
PART2_MIME = (b'Content-Type: application/pdf; name="report.pdf"\r\n'
              b"Content-Transfer-Encoding: base64\r\n"
              b'Content-Disposition: attachment; filename="report.pdf"\r\n\r\n')
PART3_MIME = b"Content-Type: message/rfc822\r\n\r\n"
MULTIPART = (
    b"From: Alice Example <alice@example.org>\r\n"
    b"To: Bob <bob@example.org>, carol@example.org\r\n"
    b'Cc: "Dan, D." <dan@example.org>\r\n'
    b"Subject: Quarterly report\r\n"
    b"Date: Mon, 05 Jan 2026 10:00:00 +0100\r\n"
    b"Message-ID: <mp1@mailkeep.test>\r\n"
    b"In-Reply-To: <prev@mailkeep.test>\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="outer-b"\r\n'
    b"\r\n"
    b"This is a multi-part message in MIME format.\r\n"
    b"--outer-b\r\n" + PART1_MIME + TEXT_BODY +
    b"\r\n--outer-b\r\n" + PART2_MIME + PDF_BODY +
    b"\r\n--outer-b\r\n" + PART3_MIME + FORWARDED +
    b"\r\n--outer-b--\r\n"
)
DECOY = (b"From: Bob <bob@example.org>\r\nSubject: Nothing here\r\n"
         b"Message-ID: <decoy@mailkeep.test>\r\n\r\nNo secret words.\r\n")


def lines_of(body):
    return body.count(b"\n")


ALICE = [b"Alice Example", None, b"alice", b"example.org"]
EVE = [b"Eve", None, b"eve", b"example.net"]
ENVELOPE = [b"Mon, 05 Jan 2026 10:00:00 +0100", b"Quarterly report", [ALICE], [ALICE], [ALICE],
            [[b"Bob", None, b"bob", b"example.org"], [None, None, b"carol", b"example.org"]],
            [[b"Dan, D.", None, b"dan", b"example.org"]], None, b"<prev@mailkeep.test>",
            b"<mp1@mailkeep.test>"]
FORWARDED_ENVELOPE = [b"Sun, 04 Jan 2026 08:30:00 +0000", b"Old news", [EVE], [EVE], [EVE], [ALICE],
                      None, None, None, b"<fwd@example.net>"]
FORWARDED_TEXT_PART = [b"text", b"plain", [b"charset", b"us-ascii"], None, None, b"7bit",
                       len(FORWARDED_TEXT), lines_of(FORWARDED_TEXT)]
BODYSTRUCTURE = [
    [b"text", b"plain", [b"charset", b"utf-8"], None, None, b"quoted-printable", len(TEXT_BODY),
     lines_of(TEXT_BODY), None, None, None, None],
    [b"application", b"pdf", [b"name", b"report.pdf"], None, None, b"base64", len(PDF_BODY),
     None, [b"attachment", [b"filename", b"report.pdf"]], None, None],
    [b"message", b"rfc822", None, None, None, b"7bit", len(FORWARDED), FORWARDED_ENVELOPE,
     FORWARDED_TEXT_PART + [None, None, None, None], lines_of(FORWARDED), None, None, None, None],
    b"mixed", [b"boundary", b"outer-b"], None, None, None,
]
# BODY: the same without extension data.
BODY = [
    BODYSTRUCTURE[0][:8],
    BODYSTRUCTURE[1][:7],
    BODYSTRUCTURE[2][:7] + [FORWARDED_ENVELOPE, FORWARDED_TEXT_PART, lines_of(FORWARDED)],
    b"mixed",
]


def canonical(bs):
    """A body structure with what RFC 2045 makes case-insensitive lower-cased
    (types, subtypes, encodings, parameter and disposition names), so that
    the comparison is exact about everything else."""
    def lower(v):
        return v.lower() if isinstance(v, (bytes, str)) else v

    def params(p):
        if isinstance(p, list):
            return [lower(x) if i % 2 == 0 else x for i, x in enumerate(p)]
        return p

    def disposition(d):
        if isinstance(d, list) and len(d) == 2:
            return [lower(d[0]), params(d[1])]
        return d

    if not isinstance(bs, list) or not bs:
        return bs
    if isinstance(bs[0], list):
        i = 0
        parts = []
        while i < len(bs) and isinstance(bs[i], list):
            parts.append(canonical(bs[i]))
            i += 1
        rest = bs[i:]
        out = parts + [lower(rest[0])] if rest else parts
        if len(rest) > 1:
            out.append(params(rest[1]))
        if len(rest) > 2:
            out.append(disposition(rest[2]))
        out.extend(rest[3:])
        return out
    out = [lower(bs[0]), lower(bs[1]), params(bs[2]), bs[3], bs[4], lower(bs[5]), bs[6]]
    rest = bs[7:]
    kind = (lower(bs[0]), lower(bs[1]))
    if kind == (b"message", b"rfc822") and len(rest) >= 3:
        out += [rest[0], canonical(rest[1]), rest[2]]
        rest = rest[3:]
    elif kind[0] == b"text" and rest:
        out.append(rest[0])
        rest = rest[1:]
    # Extension data: md5, disposition, language, location.
    for j, v in enumerate(rest):
        out.append(disposition(v) if j == 1 else v)
    return out


# --- sections ----------------------------------------------------------------

def fetch_structure(s):
    c = s.connect()
    s.ok(c.create("Mime"), "CREATE Mime")
    s.ok(c.append("Mime", None, None, DECOY), "APPEND the decoy")
    s.ok(c.append("Mime", None, None, MULTIPART), "APPEND the multipart message")
    s.ok(c.select("Mime"), "SELECT Mime")

    responses, done = c.fetch_raw("FETCH 2 (BODYSTRUCTURE BODY ENVELOPE RFC822.SIZE)")
    s.check(done.split(b" ")[1] == b"OK" and len(responses) == 1, "FETCH 2 answers once: %r" % done)
    seq, items = fetch_items(responses[0])
    s.equal(items.get("RFC822.SIZE"), len(MULTIPART), "RFC822.SIZE of the multipart message")
    s.equal(items.get("ENVELOPE"), ENVELOPE, "ENVELOPE of the multipart message")
    s.equal(canonical(items.get("BODYSTRUCTURE")), BODYSTRUCTURE,
            "BODYSTRUCTURE: text/plain QP, application/pdf attachment, message/rfc822 with its "
            "envelope and structure, multipart/mixed with its boundary")
    s.equal(canonical(items.get("BODY")), BODY, "BODY: the structure without extension data")

    responses, done = c.fetch_raw(
        "FETCH 2 (BODY.PEEK[1.MIME] BINARY.PEEK[1] BINARY.SIZE[1] BINARY.PEEK[2] BINARY.SIZE[2] "
        "BODY.PEEK[3.HEADER.FIELDS (SUBJECT)] BODY.PEEK[3.TEXT] BODY.PEEK[2.MIME])")
    s.check(done.split(b" ")[1] == b"OK" and len(responses) == 1, "FETCH of sections answers once: %r" % done)
    seq, items = fetch_items(responses[0])
    s.equal(items.get("BODY[1.MIME]"), PART1_MIME, "BODY[1.MIME]: the part's MIME header")
    s.equal(items.get("BINARY[1]"), TEXT_DECODED, "BINARY[1]: the quoted-printable text decoded")
    s.equal(items.get("BINARY.SIZE[1]"), len(TEXT_DECODED), "BINARY.SIZE[1]")
    s.equal(items.get("BINARY[2]"), PDF, "BINARY[2]: the attachment's bytes, NULs included")
    s.check(re.search(rb"BINARY\[2\] ~\{%d\}\r\n" % len(PDF), responses[0]) is not None,
            "BINARY[2] with a NUL comes as a literal8 ~{%d}" % len(PDF))
    s.equal(items.get("BINARY.SIZE[2]"), len(PDF), "BINARY.SIZE[2]")
    s.equal(items.get("BODY[3.HEADER.FIELDS (SUBJECT)]"), b"Subject: Old news\r\n\r\n",
            "BODY[3.HEADER.FIELDS (SUBJECT)]: the forwarded message's subject")
    s.equal(items.get("BODY[3.TEXT]"), FORWARDED_TEXT, "BODY[3.TEXT]: the forwarded message's text")
    s.equal(items.get("BODY[2.MIME]"), PART2_MIME, "BODY[2.MIME]")

    responses, _ = c.fetch_raw("FETCH 2 (FLAGS)")
    _, items = fetch_items(responses[0])
    s.check("\\Seen" not in [str(f) for f in items.get("FLAGS", [])],
            "PEEK and BINARY.PEEK left the message unseen: %r" % items)

    data = s.ok(c.search(None, "TEXT", "zanzibarique"), "SEARCH TEXT zanzibarique")
    s.equal(data, [b"2"], "SEARCH TEXT finds a word that is only inside the forwarded message")
    data = s.ok(c.search(None, "BODY", "zanzibarique"), "SEARCH BODY zanzibarique")
    s.equal(data, [b"2"], "SEARCH BODY finds it too")
    data = s.ok(c.search(None, "TEXT", "secret"), "SEARCH TEXT secret")
    s.equal(data, [b"1"], "SEARCH TEXT of the decoy's word finds only the decoy")


SORTING = [
    # ident, subject, date, from, extra headers
    ("s1", "Beta", "Sat, 03 Jan 2026 12:00:00 +0000", "carl@example.org", ""),
    ("s2", "Re: Alpha", "Fri, 02 Jan 2026 12:00:00 +0000", "anna@example.org",
     "In-Reply-To: <s3@mailkeep.test>\r\nReferences: <s3@mailkeep.test>\r\n"),
    ("s3", "Alpha", "Thu, 01 Jan 2026 12:00:00 +0000", "bert@example.org", ""),
    ("s4", "Re: Re: Alpha", "Sun, 04 Jan 2026 12:00:00 +0000", "dora@example.org",
     "In-Reply-To: <s2@mailkeep.test>\r\nReferences: <s3@mailkeep.test> <s2@mailkeep.test>\r\n"),
    ("s5", "Gamma", "Mon, 05 Jan 2026 12:00:00 +0000", "anna@example.org", ""),
]


def sort_and_thread(s):
    c = s.connect()
    s.ok(c.create("Sorting"), "CREATE Sorting")
    for ident, subject, date, sender, extra in SORTING:
        msg = ("From: %s\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <%s@mailkeep.test>\r\n%s\r\n"
               "Text of %s.\r\n" % (sender, subject, date, ident, extra, ident)).encode()
        s.ok(c.append("Sorting", None, None, msg), "APPEND %s" % ident)
    s.ok(c.select("Sorting"), "SELECT Sorting")

    def sort(criteria, search="ALL"):
        return s.ok(c.sort(criteria, "UTF-8", search), "SORT %s %s" % (criteria, search))

    s.equal(sort("(SUBJECT)"), [b"2 3 4 1 5"], "SORT (SUBJECT): by base subject, ties by number")
    s.equal(sort("(DATE)"), [b"3 2 1 4 5"], "SORT (DATE): by the Date header")
    s.equal(sort("(REVERSE DATE)"), [b"5 4 1 2 3"], "SORT (REVERSE DATE)")
    s.equal(sort("(FROM)"), [b"2 5 3 1 4"], "SORT (FROM): by the first From mailbox, ties by number")
    s.equal(sort("(DATE)", "FROM anna"), [b"2 5"], "SORT (DATE) with a search key")
    data = s.ok(c.uid("SORT", "(REVERSE SUBJECT)", "UTF-8", "ALL"), "UID SORT (REVERSE SUBJECT)")
    # RFC 5256 §3: REVERSE reverses its criterion only, not the implicit
    # tie-break by message number.
    s.equal(data, [b"5 1 2 3 4"], "UID SORT (REVERSE SUBJECT): ties stay in ascending order")
    data = s.ok(c.uid("SORT", "(REVERSE SUBJECT REVERSE DATE)", "UTF-8", "ALL"), "UID SORT two keys")
    s.equal(data, [b"5 1 4 2 3"], "UID SORT (REVERSE SUBJECT REVERSE DATE)")

    data = s.ok(c.thread("ORDEREDSUBJECT", "UTF-8", "ALL"), "THREAD ORDEREDSUBJECT")
    s.equal(data, [b"(3 (2)(4))(1)(5)"],
            "THREAD ORDEREDSUBJECT: Alpha's first message is the parent of the other two")
    data = s.ok(c.thread("REFERENCES", "UTF-8", "ALL"), "THREAD REFERENCES")
    s.equal(data, [b"(3 2 4)(1)(5)"], "THREAD REFERENCES: s4 replies to s2, which replies to s3")
    data = s.ok(c.uid("THREAD", "REFERENCES", "UTF-8", "ALL"), "UID THREAD REFERENCES")
    s.equal(data, [b"(3 2 4)(1)(5)"], "UID THREAD REFERENCES (UIDs equal numbers here)")


def bare_lf_append(s):
    c = s.connect()
    s.ok(c.create("LfBox"), "CREATE LfBox")
    lf = (b"From: lf@mailkeep.test\nSubject: bare LF\nMessage-ID: <lf@mailkeep.test>\n\n"
          b"line one\nline two\n")
    crlf = lf.replace(b"\n", b"\r\n")
    # imaplib's append() would turn the LFs into CRLFs: send the literal as is.
    c.literal = lf
    typ, data = c._simple_command("APPEND", "LfBox")
    s.equal(typ, "OK", "APPEND of a message with bare LF line ends: %r" % data)
    s.ok(c.select("LfBox"), "SELECT LfBox")
    responses, done = c.fetch_raw(
        "FETCH 1 (RFC822.SIZE BODY.PEEK[] BODY.PEEK[HEADER] BODY.PEEK[TEXT] BODY.PEEK[]<20.10> "
        "BINARY.SIZE[])")
    s.check(done.split(b" ")[1] == b"OK" and len(responses) == 1, "FETCH answers once: %r" % done)
    _, items = fetch_items(responses[0])
    s.equal(items.get("RFC822.SIZE"), len(crlf), "RFC822.SIZE counts CRLF line ends")
    s.equal(items.get("BODY[]"), crlf, "BODY[] comes back with CRLF line ends")
    header, _, text = crlf.partition(b"\r\n\r\n")
    s.equal(items.get("BODY[HEADER]"), header + b"\r\n\r\n", "BODY[HEADER] with CRLF")
    s.equal(items.get("BODY[TEXT]"), text, "BODY[TEXT] with CRLF")
    s.equal(items.get("BODY[]<20>"), crlf[20:30], "BODY[]<20.10>: offsets count CRLF")
    s.check(b"BODY[]<20> " in responses[0], "the origin is echoed as <20>")
    s.equal(items.get("BINARY.SIZE[]"), len(crlf), "BINARY.SIZE[] counts CRLF")
    data = s.ok(c.search(None, "LARGER", str(len(crlf) - 1)), "SEARCH LARGER size-1")
    s.equal(data, [b"1"], "SEARCH LARGER uses the CRLF size")
    data = s.ok(c.search(None, "SMALLER", str(len(crlf))), "SEARCH SMALLER size")
    s.equal(data, [b""], "SEARCH SMALLER uses the CRLF size")


def large_attachment(s):
    """A message with a 2.4 MB attachment, stored once with CRLF and once
    with bare LFs (as Dovecot stores mail), read as clients read large
    messages: in 64 KiB windows of the whole (Thunderbird's default), the
    attachment's body, windows of it and of TEXT, BINARY.SIZE and BINARY.
    Large sections are sent from the file (and bare-LF files through a
    map of their offsets): every byte must still be the message's."""
    c = s.connect()
    s.ok(c.create("Large"), "CREATE Large")
    attachment = bytes((i * 7 ^ (i >> 11)) & 0xFF for i in range(2_400_000))
    b64 = base64.b64encode(attachment)
    body = b"".join(b64[i:i + 76] + CRLF for i in range(0, len(b64), 76))
    crlf = (b"From: big@mailkeep.test\r\nSubject: large\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
            b"Content-Type: text/plain\r\n\r\nsee attached\r\n--b\r\n"
            b"Content-Type: application/octet-stream\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n" + body + b"--b--\r\n")
    for stored in (crlf, crlf.replace(CRLF, b"\n")):
        c.literal = stored
        typ, data = c._simple_command("APPEND", "Large")
        s.equal(typ, "OK", "APPEND of a large message: %r" % data)
    s.ok(c.select("Large"), "SELECT Large")
    text = crlf.partition(b"\r\n\r\n")[2]
    for n, form in ((1, "CRLF"), (2, "bare LF")):
        def item(fetch, name):
            responses, done = c.fetch_raw("FETCH %d (%s)" % (n, fetch))
            s.check(done.split(b" ")[1] == b"OK", "%s of the %s message: %r" % (fetch, form, done))
            return fetch_items(responses[0])[1].get(name)
        whole, offset = b"", 0
        while offset < len(crlf) + 65536:
            window = item("BODY.PEEK[]<%d.65536>" % offset, "BODY[]<%d>" % offset) or b""
            whole += window
            offset += 65536
            if len(window) < 65536:
                break
        s.check(whole == crlf, "the %s message in 64 KiB windows is the message" % form)
        s.check(item("BODY.PEEK[2]", "BODY[2]") == body[:-2],
                "BODY[2] of the %s message is the attachment's body as sent" % form)
        s.check(item("BODY.PEEK[2]<1000001.70000>", "BODY[2]<1000001>") == body[1000001:1070001],
                "a window of part 2 of the %s message" % form)
        s.check(item("BODY.PEEK[TEXT]<2000000.70000>", "BODY[TEXT]<2000000>")
                == text[2000000:2070000], "a window of TEXT of the %s message" % form)
        s.equal(item("BINARY.SIZE[2]", "BINARY.SIZE[2]"), len(attachment),
                "BINARY.SIZE[2] of the %s message" % form)
        s.check(item("BINARY.PEEK[2]", "BINARY[2]") == attachment,
                "BINARY[2] of the %s message is the attachment" % form)


if __name__ == "__main__":
    Suite("imap_mime").run([fetch_structure, sort_and_thread, bare_lf_append, large_attachment])

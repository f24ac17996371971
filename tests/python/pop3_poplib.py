#!/usr/bin/env python3
"""POP3 as Python's poplib speaks it, against a running mailkeep: CAPA,
STLS on the plain port, USER/PASS, STAT, LIST, UIDL, RETR and TOP of mail
appended over IMAP (imaplib), DELE and QUIT, then the same over implicit
TLS (POP3_SSL), where the deleted message is gone and IMAP agrees.

Environment: MK_HOST, MK_IMAP_PORT, MK_POP3_PORT, MK_POP3S_PORT, MK_USER,
MK_PASS (a new account). Exits 0 and prints "pop3_poplib: all checks
passed" when every check holds; otherwise raises. Standard library only.

Run by the Rust end-to-end test `poplib_reads_and_deletes_mail`
(tests/e2e/pop3_python.rs).
"""

import imaplib
import os
import poplib
import ssl

HOST = os.environ["MK_HOST"]
USER = os.environ["MK_USER"]
PASS = os.environ["MK_PASS"]

MESSAGES = [
    b"From: a@mailkeep.test\r\nSubject: first\r\n\r\nline 1\r\n.starts with a dot\r\nline 3\r\n",
    b"From: b@mailkeep.test\r\nSubject: second\r\n\r\nonly line\r\n",
]


def check(condition, what):
    if not condition:
        raise AssertionError(what)


def tls_context():
    # The server's certificate is self-signed; the Rust tests pin it.
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def append_over_imap():
    imap = imaplib.IMAP4(HOST, int(os.environ["MK_IMAP_PORT"]))
    imap.login(USER, PASS)
    for m in MESSAGES:
        typ, _ = imap.append("INBOX", None, None, m)
        check(typ == "OK", "APPEND")
    imap.logout()


def imap_count():
    imap = imaplib.IMAP4(HOST, int(os.environ["MK_IMAP_PORT"]))
    imap.login(USER, PASS)
    typ, data = imap.select("INBOX")
    imap.logout()
    return int(data[0])


def main():
    append_over_imap()

    pop = poplib.POP3(HOST, int(os.environ["MK_POP3_PORT"]), timeout=20)
    caps = pop.capa()
    for cap in ("STLS", "USER", "UIDL", "TOP", "PIPELINING", "RESP-CODES", "SASL"):
        check(cap in caps, "CAPA lacks %s: %r" % (cap, caps))
    pop.stls(tls_context())
    check("STLS" not in pop.capa(), "STLS offered again after STLS")
    pop.user(USER)
    pop.pass_(PASS)
    count, size = pop.stat()
    check(count == 2, "STAT count %d" % count)
    check(size == sum(len(m) for m in MESSAGES), "STAT size %d" % size)
    _, listing, _ = pop.list()
    check(listing == [b"1 %d" % len(MESSAGES[0]), b"2 %d" % len(MESSAGES[1])], "LIST %r" % listing)
    _, uidls, _ = pop.uidl()
    check(len(uidls) == 2 and all(len(u.split()[1]) == 16 for u in uidls), "UIDL %r" % uidls)
    for i, m in enumerate(MESSAGES, 1):
        _, lines, octets = pop.retr(i)
        check(b"\r\n".join(lines) + b"\r\n" == m, "RETR %d gave %r" % (i, lines))
    _, top, _ = pop.top(1, 1)
    check(top == [b"From: a@mailkeep.test", b"Subject: first", b"", b"line 1"], "TOP %r" % top)
    pop.dele(1)
    pop.quit()

    pops = poplib.POP3_SSL(HOST, int(os.environ["MK_POP3S_PORT"]), context=tls_context(), timeout=20)
    pops.user(USER)
    pops.pass_(PASS)
    count, _ = pops.stat()
    check(count == 1, "after DELE and QUIT, STAT count %d" % count)
    _, lines, _ = pops.retr(1)
    check(b"\r\n".join(lines) + b"\r\n" == MESSAGES[1], "the message left is the second")
    _, uidls_after, _ = pops.uidl()
    check(uidls_after[0].split()[1] == uidls[1].split()[1], "UIDLs are stable: %r" % uidls_after)
    pops.quit()
    check(imap_count() == 1, "IMAP sees one message")
    print("pop3_poplib: all checks passed")


if __name__ == "__main__":
    main()

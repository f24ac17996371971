#!/usr/bin/env python3
"""IMAP over TLS against a running mailkeep, with Python's imaplib.

Environment: MK_HOST, MK_PORT (the plain listener, STARTTLS offered),
MK_TLS_PORT (the implicit-TLS listener), MK_USER, MK_PASS, and
MK_FINGERPRINT: the SHA-256 fingerprint the server printed for its
self-signed certificate ("AB:CD:..."). The certificate cannot be verified
against a CA, so the script does what a careful user does: it accepts it
only if its fingerprint is the printed one.

Checks, over implicit TLS (IMAP4_SSL) and then over STARTTLS: the
certificate's fingerprint, TLS 1.3, the capabilities (no STARTTLS once TLS
is on, AUTH=SCRAM-SHA-256-PLUS offered), LOGIN, APPEND, SELECT and FETCH
of the appended message, byte for byte. Exits 0 and prints
"imap_tls: all checks passed" when every check holds; otherwise prints
what failed and exits 1. Standard library only.

Run by the Rust end-to-end test `python_imaplib_over_implicit_tls_and_starttls`
(tests/e2e/starttls.rs).
"""

import hashlib
import imaplib
import os
import ssl
import sys
import traceback

HOST = os.environ.get("MK_HOST", "127.0.0.1")
PORT = int(os.environ.get("MK_PORT", "1143"))
TLS_PORT = int(os.environ.get("MK_TLS_PORT", "1993"))
USER = os.environ.get("MK_USER", "alice")
PASS = os.environ.get("MK_PASS", "")
FINGERPRINT = os.environ.get("MK_FINGERPRINT", "")
TIMEOUT = 30


class CheckFailed(Exception):
    pass


def check(cond, what):
    if not cond:
        raise CheckFailed(what)
    print("ok:", what.split("\n")[0][:200], flush=True)


def ok(result, what):
    """Asserts an imaplib (typ, data) result is OK and returns data."""
    typ, data = result
    if typ != "OK":
        raise CheckFailed("%s: expected OK, got %s %r" % (what, typ, data))
    return data


def context():
    """TLS without CA verification: the certificate is pinned by its
    fingerprint instead (see check_certificate)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def check_certificate(sock, how):
    der = sock.getpeercert(binary_form=True)
    check(der is not None, "%s: the server presented a certificate" % how)
    digest = hashlib.sha256(der).hexdigest().upper()
    got = ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))
    check(got == FINGERPRINT,
          "%s: the certificate is the printed one (%s, printed %s)"
          % (how, got, FINGERPRINT))
    check(sock.version() == "TLSv1.3",
          "%s: TLS 1.3 (got %s)" % (how, sock.version()))


def message(ident):
    return (
        "From: Test Sender <sender@mailkeep.test>\r\n"
        "To: %s <%s@mailkeep.test>\r\n"
        "Subject: imap_tls %s\r\n"
        "Message-ID: <%s@mailkeep.test>\r\n"
        "\r\n"
        "Sent over %s.\r\n" % (USER, USER, ident, ident, ident)
    ).encode("ascii")


def mail_round(m, how):
    """LOGIN, APPEND, SELECT, FETCH of what was appended."""
    ok(m.login(USER, PASS), "%s: LOGIN" % how)
    body = message(how)
    ok(m.append("INBOX", None, None, body), "%s: APPEND" % how)
    data = ok(m.select("INBOX"), "%s: SELECT INBOX" % how)
    count = int(data[0])
    check(count >= 1, "%s: SELECT sees the message (%d)" % (how, count))
    data = ok(m.fetch(str(count), "(BODY.PEEK[])"), "%s: FETCH BODY.PEEK[]" % how)
    check(isinstance(data[0], tuple) and data[0][1] == body,
          "%s: FETCH returns the appended message byte for byte: %r"
          % (how, data[0]))
    typ, data = m.logout()
    check(typ == "BYE", "%s: LOGOUT says BYE (%s %r)" % (how, typ, data))


def implicit_tls():
    m = imaplib.IMAP4_SSL(HOST, TLS_PORT, ssl_context=context(), timeout=TIMEOUT)
    check_certificate(m.sock, "IMAP4_SSL")
    caps = m.capabilities
    check("STARTTLS" not in caps, "IMAP4_SSL: no STARTTLS on TLS: %r" % (caps,))
    check("AUTH=SCRAM-SHA-256-PLUS" in caps,
          "IMAP4_SSL: SCRAM-SHA-256-PLUS offered: %r" % (caps,))
    mail_round(m, "implicit TLS")


def starttls():
    m = imaplib.IMAP4(HOST, PORT, timeout=TIMEOUT)
    caps = m.capabilities
    check("STARTTLS" in caps, "plain: STARTTLS offered: %r" % (caps,))
    check("AUTH=SCRAM-SHA-256-PLUS" not in caps,
          "plain: no channel binding without TLS: %r" % (caps,))
    ok(m.starttls(ssl_context=context()), "STARTTLS")
    check_certificate(m.sock, "STARTTLS")
    # imaplib asks for the capabilities again after the handshake.
    caps = m.capabilities
    check("STARTTLS" not in caps, "STARTTLS: no STARTTLS once on TLS: %r" % (caps,))
    check("AUTH=SCRAM-SHA-256-PLUS" in caps,
          "STARTTLS: SCRAM-SHA-256-PLUS offered: %r" % (caps,))
    mail_round(m, "STARTTLS")


def main():
    try:
        check(FINGERPRINT != "", "MK_FINGERPRINT is set")
        implicit_tls()
        starttls()
    except CheckFailed as e:
        print("FAILED:", e, flush=True)
        return 1
    except Exception:
        traceback.print_exc()
        return 1
    print("imap_tls: all checks passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

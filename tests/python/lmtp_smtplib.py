"""LMTP through Python's smtplib.LMTP (not our code), over TCP and over the
UNIX socket, read back with imaplib. Exits non-zero on any mismatch."""

import imaplib
import os
import smtplib
import sys

HOST = os.environ["MK_HOST"]
LMTP_PORT = int(os.environ["MK_LMTP_PORT"])
SOCKET = os.environ["MK_LMTP_SOCKET"]
IMAP_PORT = int(os.environ["MK_IMAP_PORT"])
USER = os.environ["MK_USER"]
PASS = os.environ["MK_PASS"]

failures = []


def check(what, got, want):
    if got != want:
        failures.append(f"{what}: got {got!r}, want {want!r}")


tcp = smtplib.LMTP(HOST, LMTP_PORT)
tcp.ehlo_or_helo_if_needed()
check("LHLO SIZE", tcp.esmtp_features.get("size"), "1048576")
for ext in ["pipelining", "enhancedstatuscodes", "8bitmime", "chunking", "smtputf8"]:
    check(f"LHLO {ext}", ext in tcp.esmtp_features, True)
first = b"Subject: over tcp\r\nMessage-ID: <tcp@mailkeep.test>\r\n\r\nhello\r\n.leading dot\r\n"
refused = tcp.sendmail("sender@example.net", [f"{USER}@EXAMPLE.org", "nobody"], first)
check("unknown recipient refused", refused, {"nobody": (550, b"5.1.1 User unknown")})
tcp.quit()

unix = smtplib.LMTP(SOCKET)
second = b"Subject: over unix\r\nMessage-ID: <unix@mailkeep.test>\r\n\r\nto a folder\r\n"
refused = unix.sendmail("", [f"{USER}+Lists"], second)
check("+detail delivery", refused, {})
third = b"Subject: no such folder\r\n\r\nto INBOX\r\n"
refused = unix.sendmail("", [f"{USER}+NoSuchFolder"], third)
check("+detail without the folder", refused, {})
unix.quit()

imap = imaplib.IMAP4(HOST, IMAP_PORT)
imap.login(USER, PASS)
typ, data = imap.capability()
check("APPENDLIMIT", b"APPENDLIMIT=1048576" in data[0].split(), True)


def bodies(mailbox):
    typ, _ = imap.select(mailbox, readonly=True)
    check(f"SELECT {mailbox}", typ, "OK")
    typ, data = imap.fetch("1:*", "(BODY.PEEK[])")
    return [d[1] for d in data if isinstance(d, tuple)]


inbox = bodies("INBOX")
check("INBOX count", len(inbox), 2)
if inbox:
    m = inbox[0]
    check("Return-Path", m.startswith(b"Return-Path: <sender@example.net>\r\n"), True)
    check("Delivered-To", b"\r\nDelivered-To: " + USER.encode() + b"@EXAMPLE.org\r\n" in m, True)
    check("Received", b"\r\nReceived: from " in m and b"with LMTP" in m, True)
    check("body kept, dot unstuffed", m.endswith(first), True)
if len(inbox) > 1:
    check("no folder: INBOX", inbox[1].endswith(third), True)
lists = bodies("Lists")
check("Lists count", len(lists), 1)
if lists:
    check("+detail body", lists[0].endswith(second), True)
imap.logout()

if failures:
    for f in failures:
        print("FAILED:", f)
    sys.exit(1)
print("lmtp_smtplib: all checks passed")

#!/usr/bin/env python3
"""RFC 9208 QUOTA as Python's imaplib speaks it, against a running
mailkeep with the quota plugin: getquotaroot and getquota answer the
user's one root "" with its STORAGE and MESSAGE usage and limits, an
append past the limit is refused with [OVERQUOTA], and setquota (the
user is a quota admin) raises the limit so the same append then fits.

Environment: MK_HOST, MK_PORT, MK_USER, MK_PASS (an account limited by
`*:storage=2` and `*:messages=100`, both as userdb_quota_rule fields).
Prints "imap_quota: all checks passed" and exits 0 when every check
holds; otherwise exits 1 with what failed. Standard library only.

Run by the Rust end-to-end test `imaplib_quota_commands`
(tests/e2e/quota.rs).
"""

import imaplib
import os
import sys

HOST = os.environ["MK_HOST"]
PORT = int(os.environ["MK_PORT"])
USER = os.environ["MK_USER"]
PASS = os.environ["MK_PASS"]


def check(what, cond, detail):
    if not cond:
        print("FAILED: %s: %r" % (what, detail))
        sys.exit(1)


def message(size):
    head = b"Subject: quota\r\n\r\n"
    return head + b"x" * (size - len(head) - 2) + b"\r\n"


m = imaplib.IMAP4(HOST, PORT)
m.login(USER, PASS)
typ, caps = m.capability()
check("QUOTA capabilities", b"QUOTA=RES-STORAGE" in caps[0], caps)

typ, data = m.append("INBOX", None, None, message(1500))
check("append that fits", typ == "OK", data)

typ, data = m.getquotaroot("INBOX")
check("getquotaroot", typ == "OK", data)
roots, quotas = data
check("QUOTAROOT names the root", roots == [b'INBOX ""'], roots)
check("QUOTA lists usage and limits", quotas == [b'"" (STORAGE 1 2 MESSAGE 1 100)'], quotas)

typ, data = m.getquota('""')
check("getquota", typ == "OK" and data == [b'"" (STORAGE 1 2 MESSAGE 1 100)'], data)

typ, data = m.append("INBOX", None, None, message(1500))
check("append over quota is refused with OVERQUOTA",
      typ == "NO" and data[0].startswith(b"[OVERQUOTA]"), (typ, data))

typ, data = m.setquota('""', "(STORAGE 10)")
check("setquota by a quota admin", typ == "OK", data)
check("setquota answers the new limits", data == [b'"" (STORAGE 1 10 MESSAGE 1 100)'], data)

typ, data = m.append("INBOX", None, None, message(1500))
check("the append fits after setquota", typ == "OK", data)

m.logout()
print("imap_quota: all checks passed")

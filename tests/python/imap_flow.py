#!/usr/bin/env python3
"""A whole IMAP session against a running mailkeep, with Python's imaplib.

Environment: MK_HOST, MK_PORT, MK_USER, MK_PASS (an account with an empty
INBOX and no "Work" mailbox). Exits 0 and prints
"imap_flow: all checks passed" when every check holds; otherwise prints
what failed and exits 1. Standard library only.

Run by the Rust end-to-end test `python_imaplib_flow`
(tests/e2e/flow.rs); can also be run by hand against a server.
"""

import imaplib
import os
import re
import sys
import time
import traceback

HOST = os.environ.get("MK_HOST", "127.0.0.1")
PORT = int(os.environ.get("MK_PORT", "1143"))
USER = os.environ.get("MK_USER", "alice")
PASS = os.environ.get("MK_PASS", "")
TIMEOUT = 60


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


def make_message(ident, size):
    """A message of about `size` bytes with CRLF line endings (imaplib would
    turn bare LFs into CRLFs, so the bytes we send are the bytes we keep),
    a unique Message-ID and lines that all differ."""
    head = (
        "From: Test Sender <sender@mailkeep.test>\r\n"
        "To: %s <%s@mailkeep.test>\r\n"
        "Subject: imap_flow %s\r\n"
        "Date: Sat, 28 Nov 2026 14:00:00 +0000\r\n"
        "Message-ID: <%s@mailkeep.test>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n"
        "\r\n" % (USER, USER, ident, ident)
    ).encode("ascii")
    parts = [head]
    total = len(head)
    n = 0
    letters = "abcdefghijklmnopqrstuvwxyz0123456789 .,;:-_=+!?"
    while total < size:
        n += 1
        width = 10 + (n * 7919) % 67
        fill = "".join(letters[(n * 31 + i * 7) % len(letters)] for i in range(width))
        line = ("%s %07d %s\r\n" % (ident, n, fill)).encode("ascii")
        parts.append(line)
        total += len(line)
    return b"".join(parts)


def appenduid(data):
    """(uidvalidity, uid) from an APPEND reply's [APPENDUID v uid]."""
    text = b" ".join(d for d in data if isinstance(d, bytes)).decode("ascii", "replace")
    m = re.search(r"\[APPENDUID (\d+) (\d+)\]", text, re.I)
    if not m:
        raise CheckFailed("APPEND reply without APPENDUID: %r" % (data,))
    return int(m.group(1)), int(m.group(2))


def parse_fetch(data):
    """imaplib FETCH data -> list of {"text": bytes, "body": bytes or None}.

    A response with a literal comes as a tuple (text up to the literal,
    literal), followed by a bytes element with the rest of the response;
    a response without one comes as a single bytes element."""
    items = []
    for el in data:
        if el is None:
            continue
        if isinstance(el, tuple):
            items.append({"text": el[0], "body": el[1]})
        elif re.match(rb"^\d+ \(", el):
            items.append({"text": el, "body": None})
        elif items:
            items[-1]["text"] += el
        else:
            raise CheckFailed("unexpected FETCH data: %r" % (data,))
    for it in items:
        t = it["text"].decode("ascii", "replace")
        it["seq"] = int(t.split(" ", 1)[0])
        m = re.search(r"\bUID (\d+)", t, re.I)
        it["uid"] = int(m.group(1)) if m else None
        m = re.search(r"RFC822\.SIZE (\d+)", t, re.I)
        it["size"] = int(m.group(1)) if m else None
        m = re.search(r"FLAGS \(([^)]*)\)", t, re.I)
        it["flags"] = m.group(1).split() if m else None
        m = re.search(r'INTERNALDATE "([^"]*)"', t, re.I)
        it["internaldate"] = m.group(1) if m else None
    return items


def status_items(data):
    text = data[0].decode("ascii", "replace")
    return {k.upper(): int(v) for k, v in re.findall(r"([A-Za-z]+) (\d+)", text)}


def main():
    # --- the watcher: connected and INBOX selected before anything else ---
    watcher = imaplib.IMAP4(HOST, PORT, timeout=TIMEOUT)
    ok(watcher.login(USER, PASS), "watcher LOGIN")
    data = ok(watcher.select("INBOX"), "watcher SELECT INBOX")
    check(data == [b"0"], "watcher: INBOX starts empty (%r)" % (data,))
    watcher.response("EXISTS")  # forget what SELECT said

    # --- the main connection ---
    c = imaplib.IMAP4(HOST, PORT, timeout=TIMEOUT)
    check(c.welcome.startswith(b"* OK"), "greeting is * OK: %r" % c.welcome)
    pre = set(x.upper() for x in c.capabilities)
    for cap in ("IMAP4REV1", "LITERAL+", "SASL-IR", "AUTH=PLAIN", "AUTH=LOGIN", "ID", "ENABLE", "IDLE"):
        check(cap in pre, "capability %s before login (%s)" % (cap, sorted(pre)))

    typ, data = c.login(USER, PASS)
    check(typ == "OK", "LOGIN: %s %r" % (typ, data))
    data = ok(c.capability(), "CAPABILITY")
    post = set(data[0].decode("ascii").upper().split())
    for cap in ("IMAP4REV1", "LITERAL+", "UNSELECT", "UIDPLUS", "MOVE", "NAMESPACE", "ESEARCH"):
        check(cap in post, "capability %s after login (%s)" % (cap, sorted(post)))

    ok(c.create("Work"), "CREATE Work")
    data = ok(c.list(), "LIST")
    lines = [d.decode("utf-8", "replace") for d in data if isinstance(d, bytes)]
    check(any(re.search(r'"\." "?Work"?$', l) for l in lines), "LIST shows Work with delimiter '.': %r" % lines)
    check(any(re.search(r'"?INBOX"?$', l, re.I) for l in lines), "LIST shows INBOX: %r" % lines)

    msgs = [
        make_message("flow-small", 2 * 1024),
        make_message("flow-medium", 80 * 1024),
        make_message("flow-big", 5 * 1024 * 1024),
    ]
    appended = []
    for m in msgs:
        t0 = time.time()
        data = ok(c.append("Work", None, None, m), "APPEND %d bytes to Work" % len(m))
        appended.append(appenduid(data))
        print("  APPEND of %d bytes took %.2fs" % (len(m), time.time() - t0), flush=True)
    uidvalidity = appended[0][0]
    check(all(v == uidvalidity for v, _ in appended), "same UIDVALIDITY in every APPENDUID: %r" % appended)
    check([u for _, u in appended] == [1, 2, 3], "UIDs 1, 2, 3 in a new mailbox: %r" % appended)

    # --- the watcher sees an append to INBOX at NOOP ---
    inbox_msg = make_message("flow-inbox", 1500)
    ok(c.append("INBOX", None, None, inbox_msg), "APPEND to INBOX")
    exists = None
    deadline = time.time() + 10
    while time.time() < deadline:
        ok(watcher.noop(), "watcher NOOP")
        typ, vals = watcher.response("EXISTS")
        vals = [v for v in (vals or []) if v is not None]
        if vals:
            exists = vals[-1]
            break
        time.sleep(0.2)
    check(exists == b"1", "watcher's NOOP reports * 1 EXISTS (got %r)" % (exists,))

    # --- SELECT and FETCH ---
    data = ok(c.select("Work"), "SELECT Work")
    check(data == [b"3"], "SELECT Work: 3 EXISTS (%r)" % (data,))
    typ, vals = c.response("UIDVALIDITY")
    check(vals and vals[0] is not None and int(vals[0]) == uidvalidity,
          "SELECT's UIDVALIDITY %r equals APPENDUID's %d" % (vals, uidvalidity))

    data = ok(c.uid("FETCH", "1:*", "(FLAGS UID RFC822.SIZE INTERNALDATE BODY.PEEK[])"), "UID FETCH 1:* all")
    items = parse_fetch(data)
    check(len(items) == 3, "FETCH returned 3 messages (%d)" % len(items))
    now = time.time()
    for it, m, (_, uid) in zip(sorted(items, key=lambda i: i["seq"]), msgs, appended):
        check(it["uid"] == uid, "message %d has UID %d (%r)" % (it["seq"], uid, it["uid"]))
        check(it["size"] == len(m), "UID %d RFC822.SIZE %r == %d" % (uid, it["size"], len(m)))
        check(it["flags"] is not None and "\\Seen" not in it["flags"], "UID %d FLAGS %r" % (uid, it["flags"]))
        check(it["body"] is not None and len(it["body"]) == len(m),
              "UID %d BODY[] length %r == %d" % (uid, None if it["body"] is None else len(it["body"]), len(m)))
        check(it["body"] == m, "UID %d BODY[] is byte-identical to what was appended" % uid)
        tt = imaplib.Internaldate2tuple(b'INTERNALDATE "' + (it["internaldate"] or "").encode() + b'"')
        check(tt is not None, "UID %d INTERNALDATE %r parses" % (uid, it["internaldate"]))
        check(abs(time.mktime(tt) - now) < 86400, "UID %d INTERNALDATE %r is about now" % (uid, it["internaldate"]))

    # --- SEARCH: runs in the storage process ---
    data = ok(c.search(None, "ALL"), "SEARCH ALL")
    check(data == [b"1 2 3"], "SEARCH ALL gives 1 2 3 (%r)" % (data,))
    data = ok(c.uid("SEARCH", "LARGER", "1000000"), "UID SEARCH LARGER")
    check([int(x) for x in data[0].split()] == [appended[2][1]],
          "UID SEARCH LARGER 1000000 finds the 5 MB message (%r)" % (data,))
    data = ok(c.search(None, "NOT", "LARGER", "1000000"), "SEARCH NOT LARGER")
    check(data == [b"1 2"], "SEARCH NOT LARGER 1000000 gives 1 2 (%r)" % (data,))

    data = ok(c.uid("FETCH", "1:*", "(FLAGS)"), "UID FETCH FLAGS after PEEK")
    for it in parse_fetch(data):
        check("\\Seen" not in (it["flags"] or []), "BODY.PEEK[] left UID %r unseen: %r" % (it["uid"], it["flags"]))

    # --- STORE, EXPUNGE ---
    data = ok(c.uid("STORE", "1", "+FLAGS", "(\\Flagged)"), "UID STORE 1 +FLAGS (\\Flagged)")
    items = parse_fetch(data)
    check(any(it["uid"] == 1 and "\\Flagged" in (it["flags"] or []) for it in items),
          "STORE's FETCH response shows UID 1 \\Flagged: %r" % (data,))
    data = ok(c.uid("STORE", "2", "+FLAGS", "(\\Deleted)"), "UID STORE 2 +FLAGS (\\Deleted)")
    check(any("\\Deleted" in (it["flags"] or []) for it in parse_fetch(data)), "STORE shows \\Deleted: %r" % (data,))
    data = ok(c.expunge(), "EXPUNGE")
    check(data == [b"2"], "EXPUNGE reports * 2 EXPUNGE (%r)" % (data,))

    data = ok(c.uid("FETCH", "1:*", "(UID FLAGS)"), "UID FETCH after EXPUNGE")
    items = sorted(parse_fetch(data), key=lambda i: i["seq"])
    check([(i["seq"], i["uid"]) for i in items] == [(1, 1), (2, 3)], "left: UIDs 1 and 3 as 1 and 2: %r" % (data,))
    check("\\Flagged" in (items[0]["flags"] or []), "UID 1 still \\Flagged: %r" % (data,))

    # --- STATUS, CLOSE, LOGOUT ---
    data = ok(c.status("Work", "(MESSAGES UIDNEXT UIDVALIDITY)"), "STATUS Work")
    st = status_items(data)
    check(st.get("MESSAGES") == 2, "STATUS MESSAGES 2: %r" % (data,))
    check(st.get("UIDNEXT") == 4, "STATUS UIDNEXT 4: %r" % (data,))
    check(st.get("UIDVALIDITY") == uidvalidity, "STATUS UIDVALIDITY unchanged: %r" % (data,))

    ok(c.close(), "CLOSE")
    typ, data = c.logout()
    check(typ == "BYE", "LOGOUT answered with BYE (%s %r)" % (typ, data))
    ok(watcher.close(), "watcher CLOSE")
    typ, data = watcher.logout()
    check(typ == "BYE", "watcher LOGOUT answered with BYE (%s %r)" % (typ, data))
    print("imap_flow: all checks passed", flush=True)


if __name__ == "__main__":
    try:
        main()
    except (CheckFailed, imaplib.IMAP4.error, OSError) as e:
        traceback.print_exc()
        print("imap_flow: FAILED: %s" % e, file=sys.stderr, flush=True)
        sys.exit(1)

#!/usr/bin/env python3
"""The IMAP extensions a real client uses, checked with Python's imaplib
against a running mailkeep: ENABLE UTF8=ACCEPT and a UTF-8 mailbox name,
ID, NAMESPACE, LIST-EXTENDED with RETURN (SPECIAL-USE STATUS ...), the
special-use mailboxes of a new account, MOVE and UID MOVE with COPYUID,
IDLE while a second connection changes the mailbox, UNSELECT, ESEARCH.

Environment: MK_HOST, MK_PORT, MK_USER, MK_PASS (a new account: nothing
but what every account gets), MK_VERSION (the server's version, as ID
reports it). Exits 0 and prints "imap_extensions: all checks passed" when
every check holds; otherwise prints each failure with the exchange that
led to it and exits 1. Standard library only.

Run by the Rust end-to-end test `imaplib_checks_the_extensions_clients_use`
(tests/e2e/python_clients.rs).
"""

import re

from imapcheck import PASS, USER, VERSION, CheckFailed, Suite, parse


def message(ident, subject=None, extra=""):
    return (
        "From: Check <check@mailkeep.test>\r\n"
        "To: %s@mailkeep.test\r\n"
        "Subject: %s\r\n"
        "Date: Tue, 06 Jan 2026 09:00:00 +0000\r\n"
        "Message-ID: <%s@mailkeep.test>\r\n"
        "%s"
        "\r\n"
        "Body of %s.\r\n" % (USER, subject or ident, ident, extra, ident)
    ).encode("utf-8")


def seq_set(text):
    """A sequence set (`2,4:6`) as the list of its numbers."""
    out = []
    for part in text.split(","):
        a, _, b = part.partition(":")
        lo, hi = sorted((int(a), int(b or a)))
        out.extend(range(lo, hi + 1))
    return out


def untagged(lines, name):
    """The untagged responses named `name` among raw lines, after the name."""
    out = []
    for line in lines:
        m = re.match(rb"\* (?:\d+ )?(\S+) ?(.*)$", line, re.S)
        if m and m.group(1).upper() == name.encode():
            out.append(m.group(2))
    return out


def status_of(data):
    """A STATUS response's data (`name (K v ...)`) as (name, {K: v})."""
    name, items = parse(data[0])
    name = name.decode("utf-8") if isinstance(name, bytes) else str(name)
    return name, {str(items[i]).upper(): items[i + 1] for i in range(0, len(items), 2)}


def list_entries(lines):
    """LIST responses as (attributes lowercased set, delimiter, name str)."""
    out = []
    for data in untagged(lines, "LIST"):
        attrs, delim, name = parse(data)[:3]
        out.append(({a.lower() for a in attrs}, delim, name.decode("utf-8") if isinstance(name, bytes) else str(name)))
    return out


# --- sections ----------------------------------------------------------------

def namespace_and_id(s):
    c = s.connect("c", login=False)
    typ, data, lines = c.run("ID", '("name" "imapcheck" "version" "1.0")')
    s.equal(typ, "OK", "ID before login is OK")
    s.equal(untagged(lines, "ID"), [b'("name" "mailkeep" "version" "%s")' % VERSION.encode()],
            "ID answers the server's name and version")
    s.ok(c.login(USER, PASS), "LOGIN")
    typ, data, lines = c.run("ID", "NIL")
    s.equal(untagged(lines, "ID"), [b'("name" "mailkeep" "version" "%s")' % VERSION.encode()],
            "ID NIL after login answers the same")
    data = s.ok(c.namespace(), "NAMESPACE")
    s.equal(data, [b'(("" ".")) (("shared." ".")) NIL'],
            "NAMESPACE: the personal namespace \"\" and other users' \"shared.\", delimiter \".\"")


def special_use_and_list_extended(s):
    """Runs first: the account holds only what every new account gets."""
    c = s.connect()
    s.ok(c.create("Parent.Child"), "CREATE Parent.Child")
    for ident, flags in (("le1", "(\\Seen)"), ("le2", None), ("le3", None)):
        s.ok(c.append("INBOX", flags, None, message(ident)), "APPEND %s to INBOX" % ident)

    _, _, lines = c.run("LIST", '""', '"*"', "RETURN", "(SPECIAL-USE STATUS (MESSAGES UNSEEN))")
    listed = list_entries(lines)
    names = [n for _, _, n in listed]
    s.equal(sorted(names), ["Drafts", "INBOX", "Junk", "Parent", "Parent.Child", "Sent", "Trash"],
            "LIST \"\" \"*\": INBOX, the four special-use mailboxes, Parent and Parent.Child")
    uses = {n: sorted(a for a in attrs if a in ("\\drafts", "\\sent", "\\trash", "\\junk", "\\archive",
                                              "\\all", "\\flagged"))
            for attrs, _, n in listed}
    s.equal(uses, {"Drafts": ["\\drafts"], "Sent": ["\\sent"], "Trash": ["\\trash"], "Junk": ["\\junk"],
                   "INBOX": [], "Parent": [], "Parent.Child": []},
            "RETURN (SPECIAL-USE): each special-use mailbox carries its attribute, no other does")
    s.check(all(d == b"." for _, d, _ in listed), "every LIST response has delimiter \".\": %r" % listed)
    # RFC 5819: a STATUS response for each listed selectable mailbox, after
    # its LIST response.
    statuses = {}
    order_ok = True
    last_list = None
    for line in lines:
        m = re.match(rb"\* (LIST|STATUS) (.*)$", line, re.S)
        if not m:
            continue
        if m.group(1) == b"LIST":
            last_list = list_entries([line])[0][2]
        else:
            name, items = parse(m.group(2))
            name = name.decode("utf-8") if isinstance(name, bytes) else str(name)
            order_ok = order_ok and name == last_list
            statuses[name] = {str(items[i]).upper(): items[i + 1] for i in range(0, len(items), 2)}
    s.check(order_ok, "each STATUS comes right after the LIST of its mailbox")
    parent = [attrs for attrs, _, n in listed if n == "Parent"]
    s.check(parent and "\\noselect" in parent[0],
            "Parent, made for Parent.Child, is listed \\Noselect: %r" % parent)
    want = {n: {"MESSAGES": 0, "UNSEEN": 0} for n in names if n != "Parent"}
    want["INBOX"] = {"MESSAGES": 3, "UNSEEN": 2}
    s.equal(statuses, want, "RETURN (STATUS (MESSAGES UNSEEN)) for every selectable mailbox")

    _, _, lines = c.run("LIST", "(SPECIAL-USE)", '""', '"*"')
    # \Marked or \Unmarked (whether anything arrived since a SELECT) aside.
    marks = ("\\marked", "\\unmarked")
    s.equal(sorted((n, sorted(x for x in a if x not in marks)) for a, _, n in list_entries(lines)),
            [("Drafts", ["\\drafts", "\\hasnochildren"]), ("Junk", ["\\hasnochildren", "\\junk"]),
             ("Sent", ["\\hasnochildren", "\\sent"]), ("Trash", ["\\hasnochildren", "\\trash"])],
            "LIST (SPECIAL-USE) selects exactly the special-use mailboxes")

    _, _, lines = c.run("LIST", "(SUBSCRIBED)", '""', '"*"')
    subscribed = {n: attrs for attrs, _, n in list_entries(lines)}
    s.equal(sorted(subscribed), ["Drafts", "Junk", "Sent", "Trash"],
            "LIST (SUBSCRIBED): a new account is subscribed to its special-use mailboxes")
    s.check(all("\\subscribed" in a for a in subscribed.values()),
            "LIST (SUBSCRIBED) marks them \\Subscribed: %r" % subscribed)

    _, _, lines = c.run("LIST", '""', '"%"', "RETURN", "(CHILDREN)")
    children = {n: sorted(a & {"\\haschildren", "\\hasnochildren"}) for a, _, n in list_entries(lines)}
    s.equal(children, {"Drafts": ["\\hasnochildren"], "INBOX": ["\\hasnochildren"],
                       "Junk": ["\\hasnochildren"], "Parent": ["\\haschildren"],
                       "Sent": ["\\hasnochildren"], "Trash": ["\\hasnochildren"]},
            "LIST \"\" \"%\" RETURN (CHILDREN): Parent has children, the others none")


def utf8_accept(s):
    c = s.connect("utf8")
    typ, data, lines = c.run("ENABLE", "UTF8=ACCEPT")
    s.equal(typ, "OK", "ENABLE UTF8=ACCEPT is OK")
    s.equal(untagged(lines, "ENABLED"), [b"UTF8=ACCEPT"], "ENABLE answers * ENABLED UTF8=ACCEPT")
    c._mode_utf8()  # imaplib now sends UTF-8
    s.ok(c.create('"Résumé Ordner"'), "CREATE a UTF-8 name after ENABLE UTF8=ACCEPT")
    _, _, lines = c.run("LIST", '""', '"R*"')
    s.equal([n for _, _, n in list_entries(lines)], ["Résumé Ordner"],
            "LIST returns the name as UTF-8 to a client that enabled UTF8=ACCEPT")
    # APPEND of a message with UTF-8 in its header (RFC 6855 §4: UTF8 (literal8)).
    msg = ("From: Jörg <joerg@mailkeep.test>\r\nSubject: Grüße aus Köln\r\n"
           "Message-ID: <utf8@mailkeep.test>\r\n\r\nHallo Jürgen.\r\n").encode("utf-8")
    tag = c.raw_command('APPEND "Résumé Ordner" UTF8 (~{%d}' % len(msg))
    cont = c.raw_line()
    s.check(cont.startswith(b"+"), "APPEND UTF8 (~{n}) gets a continuation: %r" % cont)
    c.send(msg + b")\r\n")
    while True:
        line = c.raw_line()
        if line.startswith(tag):
            break
    c.forget(tag)
    s.check(line.split(b" ")[1] == b"OK", "APPEND with UTF8 (literal8) is OK: %r" % line)
    s.ok(c.select('"Résumé Ordner"'), "SELECT the UTF-8 name")
    responses, done = c.fetch_raw("FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    s.check(len(responses) == 1 and responses[0].endswith(b"Subject: Gr\xc3\xbc\xc3\x9fe aus K\xc3\xb6ln\r\n\r\n)\r\n"),
            "the UTF-8 Subject comes back byte for byte: %r" % responses)

    # A client that did not enable UTF8=ACCEPT sees modified UTF-7.
    d = s.connect("ascii")
    _, _, lines = d.run("LIST", '""', '"R*"')
    s.equal([n for _, _, n in list_entries(lines)], ["R&AOk-sum&AOk- Ordner"],
            "LIST without UTF8=ACCEPT returns the name in modified UTF-7")
    data = s.ok(d.status('"R&AOk-sum&AOk- Ordner"', "(MESSAGES)"), "STATUS by the modified UTF-7 name")
    s.equal(status_of(data), ("R&AOk-sum&AOk- Ordner", {"MESSAGES": 1}), "STATUS of the UTF-8 mailbox")
    tag = d.raw_command('CREATE "Caf\u00e9"')
    line = d.raw_line()
    d.forget(tag)
    s.check(line.startswith(tag + b" NO") or line.startswith(tag + b" BAD"),
            "CREATE with a raw UTF-8 name is refused without UTF8=ACCEPT: %r" % line)
    _, _, lines = d.run("LIST", '""', '"Caf*"')
    s.equal(list_entries(lines), [], "and nothing was created")


def move(s):
    c = s.connect()
    for box in ("MoveSrc", "MoveDst"):
        s.ok(c.create(box), "CREATE %s" % box)
    for ident, flags in (("mv1", None), ("mv2", None), ("mv3", "(\\Flagged)"), ("mv4", "(\\Seen)")):
        s.ok(c.append("MoveSrc", flags, None, message(ident)), "APPEND %s" % ident)
    data = s.ok(c.status("MoveDst", "(UIDVALIDITY)"), "STATUS MoveDst")
    validity = int(re.search(rb"UIDVALIDITY (\d+)", data[0]).group(1))
    s.ok(c.select("MoveSrc"), "SELECT MoveSrc")

    typ, _, lines = c.run("MOVE", "1", "MoveDst")
    s.equal(typ, "OK", "MOVE 1 MoveDst")
    # IMAP4rev1's "* n RECENT" may follow, the moved messages having been
    # recent here (as Dovecot tells it); it is no expunge.
    recent = [l for l in lines if re.match(rb"\* \d+ RECENT$", l)]
    s.check(recent in ([], [b"* 3 RECENT"]), "MOVE tells the recent count left: %r" % lines)
    untagged_lines = [l for l in lines if l.startswith(b"* ") and l not in recent]
    s.check(len(untagged_lines) == 2 and re.match(rb"\* OK \[COPYUID %d 1 1\]" % validity, untagged_lines[0])
            and untagged_lines[1] == b"* 1 EXPUNGE",
            "MOVE answers * OK [COPYUID %d 1 1] then * 1 EXPUNGE: %r" % (validity, lines))

    typ, _, lines = c.run("UID", "MOVE", "3:4", "MoveDst")
    s.equal(typ, "OK", "UID MOVE 3:4 MoveDst")
    untagged_lines = [l for l in lines if l.startswith(b"* ") and not re.match(rb"\* \d+ RECENT$", l)]
    m = re.match(rb"\* OK \[COPYUID (\d+) ([0-9:,]+) ([0-9:,]+)\]", untagged_lines[0] if untagged_lines else b"")
    s.check(m is not None, "UID MOVE answers an untagged OK [COPYUID ...] first: %r" % lines)
    if m:
        s.equal((int(m.group(1)), seq_set(m.group(2).decode()), seq_set(m.group(3).decode())),
                (validity, [3, 4], [2, 3]), "UID MOVE's COPYUID: source UIDs 3,4 became 2,3")
    # The expunges, applied in order to the view [mv2, mv3, mv4], leave mv2.
    view = ["mv2", "mv3", "mv4"]
    for line in untagged_lines[1:]:
        e = re.match(rb"\* (\d+) EXPUNGE$", line)
        s.check(e is not None, "only EXPUNGE responses follow the COPYUID: %r" % line)
        if e:
            del view[int(e.group(1)) - 1]
    s.equal(view, ["mv2"], "the EXPUNGE responses remove exactly the moved messages")

    data = s.ok(c.status("MoveSrc", "(MESSAGES)"), "STATUS MoveSrc")
    s.equal(status_of(data), ("MoveSrc", {"MESSAGES": 1}), "one message stays in MoveSrc")
    s.ok(c.select("MoveDst"), "SELECT MoveDst")
    responses, _ = c.fetch_raw("UID FETCH 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    got = []
    for r in responses:
        uid = int(re.search(rb"UID (\d+)", r).group(1))
        flags = sorted(f.decode() for f in re.search(rb"FLAGS \(([^)]*)\)", r).group(1).split()
                       if f.lower() != b"\\recent")
        ident = re.search(rb"<(\w+)@mailkeep.test>", r).group(1).decode()
        got.append((uid, ident, flags))
    s.equal(got, [(1, "mv1", []), (2, "mv3", ["\\Flagged"]), (3, "mv4", ["\\Seen"])],
            "MoveDst holds the moved messages under the COPYUID UIDs, flags kept")


def idle(s):
    a = s.connect("idler")
    b = s.connect("changer")
    s.ok(a.create("IdleBox"), "CREATE IdleBox")
    s.ok(a.select("IdleBox"), "SELECT IdleBox")
    a.sock.settimeout(20)
    tag = a.raw_command("IDLE")
    line = a.raw_line()
    s.check(line.startswith(b"+"), "IDLE answers with a continuation: %r" % line)

    def wait_for(pattern, what):
        while True:
            line = a.raw_line()
            if re.match(pattern, line):
                return line
            s.check(re.match(rb"\* (\d+ (EXISTS|RECENT|FETCH|EXPUNGE)|OK )", line) is not None,
                    "only mailbox updates arrive during IDLE (%s): %r" % (what, line))

    s.ok(b.append("IdleBox", None, None, message("idle1")), "APPEND from the other connection")
    wait_for(rb"\* 1 EXISTS$", "the APPEND")
    s.check(True, "the idler hears * 1 EXISTS")
    s.ok(b.select("IdleBox"), "the other connection SELECTs IdleBox")
    s.ok(b.store("1", "+FLAGS", "(\\Flagged)"), "STORE +FLAGS (\\Flagged) from the other connection")
    line = wait_for(rb"\* 1 FETCH ", "the STORE")
    flags = re.search(rb"FLAGS \(([^)]*)\)", line)
    s.check(flags is not None and sorted(f for f in flags.group(1).split() if f.lower() != b"\\recent")
            == [b"\\Flagged"], "the idler hears * 1 FETCH (FLAGS (\\Flagged)): %r" % line)
    s.ok(b.store("1", "+FLAGS", "(\\Deleted)"), "STORE +FLAGS (\\Deleted)")
    s.ok(b.expunge(), "EXPUNGE from the other connection")
    wait_for(rb"\* 1 EXPUNGE$", "the EXPUNGE")
    s.check(True, "the idler hears * 1 EXPUNGE")
    a.send(b"DONE\r\n")
    while True:
        line = a.raw_line()
        if line.startswith(tag + b" "):
            break
    a.forget(tag)
    s.check(line.startswith(tag + b" OK"), "DONE ends IDLE with a tagged OK: %r" % line)
    data = s.ok(a.noop(), "NOOP after IDLE")
    s.check(True, "the connection works after IDLE (%r)" % data)


def unselect(s):
    c = s.connect()
    s.ok(c.create("Unsel"), "CREATE Unsel")
    for ident in ("un1", "un2"):
        s.ok(c.append("Unsel", None, None, message(ident)), "APPEND %s" % ident)
    s.ok(c.select("Unsel"), "SELECT Unsel")
    s.ok(c.store("1", "+FLAGS", "(\\Deleted)"), "STORE 1 +FLAGS (\\Deleted)")
    typ, _, lines = c.run("UNSELECT")
    s.equal(typ, "OK", "UNSELECT")
    s.equal([l for l in lines if l.startswith(b"* ")], [], "UNSELECT sends no EXPUNGE")
    tag = c.raw_command("FETCH 1 (FLAGS)")
    line = c.raw_line()
    c.forget(tag)
    s.check(line.startswith(tag + b" BAD"), "after UNSELECT no mailbox is selected: FETCH gets BAD: %r" % line)
    data = s.ok(c.status("Unsel", "(MESSAGES)"), "STATUS Unsel")
    s.equal(status_of(data), ("Unsel", {"MESSAGES": 2}), "UNSELECT expunged nothing")
    s.ok(c.select("Unsel"), "SELECT Unsel again")
    s.ok(c.close(), "CLOSE")
    data = s.ok(c.status("Unsel", "(MESSAGES)"), "STATUS Unsel")
    s.equal(status_of(data), ("Unsel", {"MESSAGES": 1}), "CLOSE (unlike UNSELECT) expunged the \\Deleted message")


def esearch(s):
    c = s.connect()
    s.ok(c.create("Esearch"), "CREATE Esearch")
    flags = [None, "(\\Seen)", None, "(\\Seen)", None, "(\\Flagged)", "(\\Seen)"]
    for i, f in enumerate(flags, 1):
        s.ok(c.append("Esearch", f, None, message("es%d" % i)), "APPEND es%d" % i)
    s.ok(c.select("Esearch"), "SELECT Esearch")
    s.ok(c.store("1", "+FLAGS", "(\\Deleted)"), "STORE 1 \\Deleted")
    s.ok(c.expunge(), "EXPUNGE")
    # Now messages 1..6 have UIDs 2..7; unseen: UIDs 3, 5, 6 (seqs 2, 4, 5).

    def esearch_of(command):
        responses, done = c.fetch_raw(command)
        tag = done.split(b" ")[0]
        s.check(done.startswith(tag + b" OK"), "%s is OK: %r" % (command, done))
        found = [r for r in responses if r.startswith(b"* ESEARCH")]
        s.check(len(found) == 1 and not any(r.startswith(b"* SEARCH") for r in responses),
                "%s answers one * ESEARCH and no * SEARCH: %r" % (command, responses))
        if not found:
            raise CheckFailed("no ESEARCH for %s" % command)
        values = parse(found[0][len(b"* ESEARCH "):].rstrip(b"\r\n"))
        correlator = values.pop(0) if values and isinstance(values[0], list) else None
        s.check(correlator is not None and str(correlator[0]).upper() == "TAG" and correlator[1] == tag,
                "%s: the ESEARCH carries (TAG \"%s\"): %r" % (command, tag.decode(), found[0]))
        uid = bool(values) and str(values[0]).upper() == "UID"
        if uid:
            values.pop(0)
        items = {str(values[i]).upper(): values[i + 1] for i in range(0, len(values), 2)}
        if "ALL" in items:
            items["ALL"] = seq_set(str(items["ALL"]))
        return uid, items

    s.equal(esearch_of("UID SEARCH RETURN (COUNT MIN MAX) UNSEEN"),
            (True, {"COUNT": 3, "MIN": 3, "MAX": 6}), "UID SEARCH RETURN (COUNT MIN MAX) UNSEEN")
    s.equal(esearch_of("SEARCH RETURN (MIN MAX COUNT ALL) UNSEEN"),
            (False, {"MIN": 2, "MAX": 5, "COUNT": 3, "ALL": [2, 4, 5]}),
            "SEARCH RETURN (MIN MAX COUNT ALL) UNSEEN (message numbers)")
    s.equal(esearch_of("SEARCH RETURN () FLAGGED"), (False, {"ALL": [5]}),
            "SEARCH RETURN () means RETURN (ALL)")
    s.equal(esearch_of("UID SEARCH RETURN (COUNT MIN MAX) KEYWORD $NotThere"), (True, {"COUNT": 0}),
            "no match: COUNT 0, and no MIN or MAX")
    s.equal(esearch_of("UID SEARCH RETURN (ALL) UID 4:*"), (True, {"ALL": [4, 5, 6, 7]}),
            "UID SEARCH RETURN (ALL) UID 4:*: the UID key takes UIDs")
    s.equal(esearch_of("UID SEARCH RETURN (ALL) 4:*"), (True, {"ALL": [5, 6, 7]}),
            "UID SEARCH RETURN (ALL) 4:*: a bare set is message numbers, answered as UIDs")


if __name__ == "__main__":
    Suite("imap_extensions").run([
        special_use_and_list_extended,
        namespace_and_id,
        utf8_accept,
        move,
        idle,
        unselect,
        esearch,
    ])

#!/usr/bin/env python3
"""Regenerates the Dovecot migration fixture with the real Dovecot.

Starts a throwaway Dovecot (Debian's dovecot-imapd, 2.3 configuration
syntax) on 127.0.0.1:<PORT> with its configuration, state and logs in a
temporary directory, fills a mailbox through IMAP (imaplib), records what
Dovecot reports into expected.json (and expected.tsv), stops Dovecot and copies the Maildir
here (without Dovecot's dovecot.index* cache files).

Run as root: `python3 regenerate.py` (needs `apt-get install dovecot-imapd`).
"""

import email.utils
import imaplib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PORT = 10143
USER, PASSWORD = "migrant", "secret"

CONFIG = """
protocols = imap
listen = 127.0.0.1
base_dir = {tmp}/run
state_dir = {tmp}/state
log_path = {tmp}/dovecot.log
info_log_path = {tmp}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
passdb {{
  driver = passwd-file
  args = {tmp}/passwd
}}
userdb {{
  driver = passwd-file
  args = {tmp}/passwd
}}
mail_location = maildir:{tmp}/home/Maildir
mail_uid = {uid}
mail_gid = {gid}
first_valid_uid = 1
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
"""


def message(n, subject, to="bob@example.org"):
    return (
        f"From: Alice <alice@example.org>\r\n"
        f"To: {to}\r\n"
        f"Subject: {subject}\r\n"
        f"Date: Mon, {n:02d} Jun 2025 10:00:00 +0000\r\n"
        f"Message-ID: <msg{n}@fixture.example>\r\n"
        f"\r\n"
        f"Body of message {n}.\r\n"
    ).encode()


def main():
    uid = int(os.environ.get("SUDO_UID", 5000)) or 5000
    gid = int(os.environ.get("SUDO_GID", 5000)) or 5000
    tmp = tempfile.mkdtemp(prefix="dovecot-fixture-")
    os.chmod(tmp, 0o755)
    for d in ("run", "state", "home"):
        os.makedirs(os.path.join(tmp, d))
    os.chown(os.path.join(tmp, "home"), uid, gid)
    with open(os.path.join(tmp, "passwd"), "w") as f:
        f.write(f"{USER}:{{PLAIN}}{PASSWORD}:{uid}:{gid}::{tmp}/home\n")
    conf = os.path.join(tmp, "dovecot.conf")
    with open(conf, "w") as f:
        f.write(CONFIG.format(tmp=tmp, uid=uid, gid=gid, port=PORT))
    subprocess.run(["dovecot", "-c", conf], check=True)
    try:
        for _ in range(50):
            try:
                imap = imaplib.IMAP4("127.0.0.1", PORT)
                break
            except OSError:
                time.sleep(0.1)
        else:
            sys.exit("Dovecot did not start; see " + tmp + "/dovecot.log")
        expected = fill(imap)
        imap.logout()
    finally:
        subprocess.run(["doveadm", "-c", conf, "stop"], check=False)
        time.sleep(0.5)
    copy_maildir(os.path.join(tmp, "home", "Maildir"))
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump(expected, f, indent=2, sort_keys=True)
        f.write("\n")
    write_tsv(expected)
    shutil.rmtree(tmp)
    print("fixture written to", HERE)


def check(result):
    typ, data = result
    if typ != "OK":
        raise RuntimeError(f"IMAP command failed: {typ} {data}")
    return data


def fill(imap):
    check(imap.login(USER, PASSWORD))
    for name in ("Sent", "Work", "Work.Projects"):
        check(imap.create(name))
    for name in ("INBOX", "Sent", "Work.Projects"):
        check(imap.subscribe(name))
    plan = [
        ("INBOX", r"(\Seen)", "first"),
        ("INBOX", r"(\Seen \Answered $Forwarded)", "second"),
        ("INBOX", r"()", "third, to be expunged"),
        ("INBOX", r"(\Flagged Important)", "fourth"),
        ("INBOX", r"(\Seen $Junk)", "fifth"),
        ("INBOX", r"(\Draft)", "sixth"),
        ("Sent", r"(\Seen)", "sent one"),
        ("Sent", r"(\Seen $Forwarded Important)", "sent two"),
        ("Work", r"(\Flagged)", "work one"),
        ("Work.Projects", r"(Important)", "project one"),
        ("Work.Projects", r"(\Seen \Flagged $Junk)", "project two"),
    ]
    date = imaplib.Time2Internaldate(time.time())
    for n, (mailbox, flags, subject) in enumerate(plan, start=1):
        check(imap.append(mailbox, flags, date, message(n, subject)))
    # Expunge the third INBOX message, so INBOX's UIDs have a gap.
    check(imap.select("INBOX"))
    check(imap.uid("STORE", "3", "+FLAGS", r"(\Deleted)"))
    check(imap.expunge())
    # Change flags after the append: Dovecot renames the files.
    check(imap.uid("STORE", "1", "+FLAGS", r"(\Flagged Important)"))
    check(imap.uid("STORE", "4", "-FLAGS", r"(\Flagged)"))
    expected = {"mailboxes": {}, "subscriptions": []}
    for name in ("INBOX", "Sent", "Work", "Work.Projects"):
        data = check(imap.select(name))
        uidvalidity = int(imap.response("UIDVALIDITY")[1][0])
        uidnext = int(imap.response("UIDNEXT")[1][0])
        messages = {}
        if int(data[0]) > 0:
            for item in check(imap.fetch("1:*", "(UID FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")):
                if not isinstance(item, tuple):
                    continue
                meta = item[0].decode()
                uid = int(re.search(r"UID (\d+)", meta).group(1))
                flags = re.search(r"FLAGS \(([^)]*)\)", meta).group(1).split()
                msgid = item[1].decode().split(":", 1)[1].strip()
                messages[str(uid)] = {"message_id": msgid, "flags": sorted(f for f in flags if f != r"\Recent")}
        expected["mailboxes"][name] = {"uidvalidity": uidvalidity, "uidnext": uidnext, "messages": messages}
    for line in check(imap.lsub('""', '"*"')):
        expected["subscriptions"].append(line.decode().rsplit(" ", 1)[1].strip('"'))
    expected["subscriptions"].sort()
    return expected


def write_tsv(expected):
    """The same facts as expected.json, one per line, for the Rust test
    (which has no JSON parser): `mailbox NAME UIDVALIDITY UIDNEXT`,
    `message NAME UID MESSAGE-ID FLAGS...`, `subscribed NAME`."""
    with open(os.path.join(HERE, "expected.tsv"), "w") as f:
        for name, box in sorted(expected["mailboxes"].items()):
            f.write(f"mailbox\t{name}\t{box['uidvalidity']}\t{box['uidnext']}\n")
            for uid, m in sorted(box["messages"].items(), key=lambda kv: int(kv[0])):
                f.write("\t".join(["message", name, uid, m["message_id"]] + m["flags"]) + "\n")
        for name in expected["subscriptions"]:
            f.write(f"subscribed\t{name}\n")


def copy_maildir(src):
    dst = os.path.join(HERE, "Maildir")
    shutil.rmtree(dst, ignore_errors=True)

    def ignore(_dir, names):
        return [n for n in names if n.startswith("dovecot.index") or n == "dovecot.list.index.log"
                or n.startswith("dovecot.list.index") or n == "dovecot-uidlist.lock" or n == "dovecot.mailbox.log"]

    shutil.copytree(src, dst, ignore=ignore, copy_function=shutil.copy2)
    # Empty cur/ new/ tmp/ are not kept by git: the test recreates them.


if __name__ == "__main__":
    main()

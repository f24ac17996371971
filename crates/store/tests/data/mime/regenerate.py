#!/usr/bin/env python3
"""Writes <name>.expected for every <name>.eml here from a throwaway Dovecot.

Needs Debian's dovecot-imapd (2.3). Starts Dovecot on 127.0.0.1:<port> with a
config in a temp dir, APPENDs each message over IMAP, FETCHes ENVELOPE, BODY,
BODYSTRUCTURE and a few sections, and writes them one item a line:
    ENVELOPE <bytes>
    BODY <bytes>
    BODYSTRUCTURE <bytes>
    SECTION <spec> <hex of bytes>
Literals inside items are kept as {N}CRLF<bytes>, so lines are split by
item name, not by newline: see mime_golden.rs for the reader.
"""
import imaplib, os, pwd, re, shutil, subprocess, sys, tempfile, time, grp

HERE = os.path.dirname(os.path.abspath(__file__))
PORT = int(os.environ.get("DOVECOT_PORT", "14393"))
SECTIONS = ["HEADER", "TEXT", "1", "1.MIME", "2", "2.HEADER", "2.TEXT", "2.1", "2.2.TEXT",
            "HEADER.FIELDS (FROM SUBJECT)", "HEADER.FIELDS.NOT (FROM SUBJECT)"]

def main():
    tmp = tempfile.mkdtemp(prefix="mime-dovecot-")
    user = pwd.getpwuid(os.getuid()).pw_name
    uid, gid = os.getuid(), os.getgid()
    home = os.path.join(tmp, "home")
    os.makedirs(home)
    if uid == 0:
        # Dovecot refuses uid 0 for mail: use nobody's ids and give it the tree.
        nobody = pwd.getpwnam("nobody")
        uid, gid = nobody.pw_uid, nobody.pw_gid
        os.chown(home, uid, gid)
    with open(os.path.join(tmp, "passwd"), "w") as f:
        f.write(f"test:{{PLAIN}}pass:{uid}:{gid}::{home}::\n")
    conf = os.path.join(tmp, "dovecot.conf")
    with open(conf, "w") as f:
        f.write(f"""
base_dir = {tmp}/run
state_dir = {tmp}/state
log_path = {tmp}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
mail_location = maildir:~/Maildir
first_valid_uid = 1
default_login_user = {user if os.getuid() != 0 else 'dovenull'}
default_internal_user = {user if os.getuid() != 0 else 'dovecot'}
service imap-login {{
  inet_listener imap {{
    port = {PORT}
  }}
}}
passdb {{
  driver = passwd-file
  args = {tmp}/passwd
}}
userdb {{
  driver = passwd-file
  args = {tmp}/passwd
}}
""")
    os.chmod(tmp, 0o755)
    subprocess.run(["dovecot", "-c", conf], check=True)
    try:
        for _ in range(50):
            try:
                m = imaplib.IMAP4("127.0.0.1", PORT)
                break
            except OSError:
                time.sleep(0.1)
        m.login("test", "pass")
        m.select("INBOX")
        names = sorted(n[:-4] for n in os.listdir(HERE) if n.endswith(".eml"))
        for name in names:
            data = open(os.path.join(HERE, name + ".eml"), "rb").read()
            m.append("INBOX", None, None, data)
        m.select("INBOX")
        for i, name in enumerate(names, start=1):
            out = [f"# Dovecot {subprocess.run(['dovecot', '--version'], capture_output=True, text=True).stdout.strip()}\n".encode()]
            for item in ["ENVELOPE", "BODY", "BODYSTRUCTURE"]:
                out.append(item.encode() + b" " + fetch_item(m, i, item) + b"\n")
            for sec in SECTIONS:
                typ, resp = m.fetch(str(i), f"(BODY.PEEK[{sec}])")
                val = b""
                for r in resp:
                    if isinstance(r, tuple):
                        val = r[1]
                        break
                else:
                    continue  # NIL or not present
                out.append(f"SECTION {sec}\t".encode() + val.hex().encode() + b"\n")
            open(os.path.join(HERE, name + ".expected"), "wb").write(b"".join(out))
            print(name)
        m.logout()
    finally:
        subprocess.run(["doveadm", "-c", conf, "stop"], check=False)
        shutil.rmtree(tmp, ignore_errors=True)

def fetch_item(m, i, item):
    """The raw bytes of one FETCH item, literals re-joined as {N}CRLF bytes."""
    tag = m._new_tag()
    m.send(tag + f" FETCH {i} ({item})\r\n".encode())
    raw = b""
    while True:
        line = m._get_line() + b"\r\n"
        raw += line
        lit = re.search(rb"\{(\d+)\}\r\n$", line)
        if lit:
            raw += m.read(int(lit.group(1)))
            continue
        if line.startswith(tag):
            break
    start = raw.index(item.encode() + b" ") + len(item) + 1
    # Find the end of the parenthesised item.
    depth, j, n = 0, start, len(raw)
    while j < n:
        c = raw[j:j+1]
        if c == b'"':
            j += 1
            while raw[j:j+1] != b'"':
                if raw[j:j+1] == b"\\":
                    j += 1
                j += 1
        elif c == b"{":
            k = raw.index(b"}", j)
            ln = int(raw[j+1:k])
            j = k + 3 + ln - 1
        elif c == b"(":
            depth += 1
        elif c == b")":
            depth -= 1
            if depth == 0:
                return raw[start:j+1]
        j += 1
    return raw[start:]

if __name__ == "__main__":
    main()

"""What the imaplib compliance scripts share: the server's address from the
environment, an imaplib client that records every line it sends and
receives (shown when a check fails), a parser of IMAP data (lists,
strings, literals) for exact comparisons, and checks that collect failures
per section instead of stopping at the first one.

Standard library only. The scripts importing this (imap_extensions.py,
imap_mime.py) are run by the Rust end-to-end tests in
tests/e2e/python_clients.rs.
"""

import imaplib
import os
import re
import sys
import traceback

HOST = os.environ.get("MK_HOST", "127.0.0.1")
PORT = int(os.environ.get("MK_PORT", "1143"))
USER = os.environ.get("MK_USER", "alice")
PASS = os.environ.get("MK_PASS", "")
VERSION = os.environ.get("MK_VERSION", "")
TIMEOUT = 30

# Commands imaplib does not know; it refuses to send unknown ones.
for _name in ("ID", "IDLE", "ESEARCH"):
    imaplib.Commands.setdefault(_name, ("NONAUTH", "AUTH", "SELECTED"))


class CheckFailed(Exception):
    pass


class Recording(imaplib.IMAP4):
    """imaplib.IMAP4 keeping a transcript of the lines it sends and reads
    (literals abbreviated), so that a failed check shows the exchange."""

    def __init__(self, name):
        self.name = name
        self.transcript = []
        self.received = []
        super().__init__(HOST, PORT, timeout=TIMEOUT)

    def _note(self, direction, data):
        if direction == "S:":
            self.received.append(data.rstrip(b"\r\n"))
        text = data.decode("utf-8", "replace").rstrip("\r\n")
        if len(text) > 300:
            text = text[:300] + "... (%d bytes)" % len(data)
        self.transcript.append("%s %s %s" % (self.name, direction, text))

    def send(self, data):
        self._note("C:", data)
        super().send(data)

    def _get_line(self):
        line = super()._get_line()
        self._note("S:", line)
        return line

    def raw_line(self):
        """The next line from the server, CRLF removed (for responses
        imaplib does not read itself, such as those during IDLE)."""
        return self._get_line()

    def raw_command(self, text):
        """Sends `TAG text` and returns the tag (the caller reads the
        responses with raw_line and then calls forget)."""
        tag = self._new_tag()
        self.send(tag + b" " + text.encode("utf-8") + b"\r\n")
        return tag

    def forget(self, tag):
        self.tagged_commands.pop(tag, None)

    def run(self, *words):
        """Runs a command imaplib does not wrap; returns (typ, data, lines)
        where lines are the raw lines the server sent for it."""
        start = len(self.received)
        typ, data = self._simple_command(*words)
        return typ, data, self.received[start:]

    def fetch_raw(self, command):
        """Sends `TAG command` and returns every response up to the tagged
        one as whole bytes (literals inline, CRLFs kept), and the tagged
        line. For FETCH responses parsed with `parse`."""
        tag = self.raw_command(command)
        responses = []
        while True:
            line = self.readline()
            self._note("S:", line)
            whole = line
            while True:
                m = re.search(rb"~?\{(\d+)\}\r\n$", line)
                if not m:
                    break
                literal = self.read(int(m.group(1)))
                whole += literal
                line = self.readline()
                self._note("S:", line)
                whole += line
            if whole.startswith(tag + b" "):
                self.forget(tag)
                return responses, whole.rstrip(b"\r\n")
            responses.append(whole)


class Section:
    """One group of checks. `check` records a failure and goes on; a
    CheckFailed or imaplib error ends only this section."""

    def __init__(self, suite, name):
        self.suite = suite
        self.name = name
        self.clients = []

    def connect(self, name="c", login=True):
        c = Recording("%s/%s" % (self.name, name))
        self.clients.append(c)
        if login:
            self.ok(c.login(USER, PASS), "LOGIN")
        return c

    def check(self, cond, what):
        if cond:
            print("ok: %s: %s" % (self.name, what.split("\n")[0][:200]), flush=True)
            return True
        self.suite.fail(self, what)
        return False

    def equal(self, got, want, what):
        return self.check(got == want, "%s\n  got:  %r\n  want: %r" % (what, got, want))

    def ok(self, result, what):
        typ, data = result[0], result[1]
        if typ != "OK":
            raise CheckFailed("%s: expected OK, got %s %r" % (what, typ, data))
        return data

    def transcript(self):
        lines = []
        for c in self.clients:
            lines.extend(c.transcript[-60:])
        return "\n".join(lines)

    def close(self):
        for c in self.clients:
            try:
                c.shutdown()
            except OSError:
                pass


class Suite:
    def __init__(self, script):
        self.script = script
        self.failures = []

    def fail(self, section, what):
        self.failures.append((section.name, what, section.transcript()))
        print("FAIL: %s: %s" % (section.name, what), flush=True)

    def run(self, sections):
        for fn in sections:
            name = fn.__name__
            section = Section(self, name)
            try:
                fn(section)
            except Exception as e:  # noqa: BLE001 - any error ends only this section
                self.failures.append((name, "stopped: %s\n%s" % (e, traceback.format_exc()),
                                      section.transcript()))
                print("FAIL: %s stopped: %s" % (name, e), flush=True)
            finally:
                section.close()
        if self.failures:
            for name, what, transcript in self.failures:
                print("\n=== %s: %s\n--- exchange (last lines) ---\n%s" % (name, what, transcript),
                      file=sys.stderr, flush=True)
            print("%s: %d check(s) FAILED" % (self.script, len(self.failures)), flush=True)
            sys.exit(1)
        print("%s: all checks passed" % self.script, flush=True)


# --- IMAP data as Python values ---------------------------------------------

class Atom(str):
    """An atom (NIL is None; numbers are ints; strings are bytes)."""


def parse(data):
    """Parses IMAP data (the bytes of a response after its name) into a list
    of values: int for numbers, None for NIL, bytes for quoted strings and
    literals, Atom for atoms (BODY[1.MIME] stays one atom), list for
    parenthesized lists."""
    values, pos = _parse_seq(data, 0, None)
    return values


def _parse_seq(data, pos, close):
    out = []
    n = len(data)
    while pos < n:
        ch = data[pos:pos + 1]
        if ch in (b" ", b"\r", b"\n"):
            pos += 1
        elif ch == b")":
            if close != b")":
                raise ValueError("unbalanced ) at %d: %r" % (pos, data[:pos + 20]))
            return out, pos + 1
        elif ch == b"(":
            inner, pos = _parse_seq(data, pos + 1, b")")
            out.append(inner)
        elif ch == b'"':
            pos += 1
            buf = bytearray()
            while data[pos:pos + 1] != b'"':
                if data[pos:pos + 1] == b"\\":
                    pos += 1
                buf += data[pos:pos + 1]
                pos += 1
                if pos >= n:
                    raise ValueError("unterminated string: %r" % data)
            out.append(bytes(buf))
            pos += 1
        elif ch in (b"{", b"~") and re.match(rb"~?\{\d+\+?\}\r\n", data[pos:]):
            m = re.match(rb"~?\{(\d+)\+?\}\r\n", data[pos:])
            size = int(m.group(1))
            start = pos + m.end()
            out.append(data[start:start + size])
            pos = start + size
        else:
            m = re.match(rb"[^ ()\r\n\[]+(\[[^\]]*\](<[0-9.]+>)?)?", data[pos:])
            if not m or not m.group(0):
                raise ValueError("unexpected %r at %d in %r" % (ch, pos, data))
            word = m.group(0).decode("utf-8")
            pos += m.end()
            if word.upper() == "NIL":
                out.append(None)
            elif word.isdigit():
                out.append(int(word))
            else:
                out.append(Atom(word))
    if close is not None:
        raise ValueError("missing ) in %r" % data)
    return out, pos


def fetch_items(response):
    """`* N FETCH (k v k v)` as (N, {KEY: value}) with keys upper-cased."""
    m = re.match(rb"\* (\d+) FETCH ", response)
    if not m:
        raise CheckFailed("not a FETCH response: %r" % response[:200])
    (items,) = parse(response[m.end():])
    return int(m.group(1)), {str(items[i]).upper(): items[i + 1] for i in range(0, len(items), 2)}


def lower_types(value):
    """Atoms and strings lower-cased, recursively: for comparing what RFC 2045
    makes case-insensitive (MIME types, subtypes, encodings, parameter
    names). Apply only to those positions."""
    if isinstance(value, list):
        return [lower_types(v) for v in value]
    if isinstance(value, bytes):
        return value.lower()
    if isinstance(value, str):
        return value.lower()
    return value

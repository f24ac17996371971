import os, base64
D = "."
def w(name, text, crlf=True, raw=None):
    data = raw if raw is not None else text.encode("latin-1") if isinstance(text, str) else text
    if crlf:
        data = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    open(os.path.join(D, name + ".eml"), "wb").write(data)
H = "Date: Mon, 01 Jan 2024 10:00:00 +0000\nFrom: Alice <alice@example.org>\nTo: Bob <bob@example.net>\nMessage-ID: <{0}@example.org>\n"
w("01-plain", H.format(1) + "Subject: plain\n\nHello Bob.\nSecond line.\n")
w("02-plain-lf", H.format(2) + "Subject: bare LF\n\nHello\nthere\n", crlf=False)
w("03-alternative", H.format(3) + 'Subject: alt\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary="b1"\n\npreamble\n--b1\nContent-Type: text/plain; charset=utf-8\n\nPlain text\n--b1\nContent-Type: text/html; charset=utf-8\n\n<p>HTML <b>text</b></p>\n--b1--\n')
att = base64.encodebytes(bytes(range(256)) * 4).decode()
w("04-mixed-attach", H.format(4) + 'Subject: attach\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="m"\n\n--m\nContent-Type: text/plain; charset="us-ascii"\n\nSee attached.\n--m\nContent-Type: application/octet-stream; name="data.bin"\nContent-Transfer-Encoding: base64\nContent-Disposition: attachment; filename="data.bin"; size=1024\nContent-ID: <att1@example.org>\nContent-Description: some bytes\n\n' + att + '--m--\n')
inner2 = "From: Carol <carol@example.com>\nSubject: innermost\nDate: Sun, 31 Dec 2023 09:00:00 +0100\n\nDeep text\n"
inner1 = 'From: Dave <dave@example.com>\nSubject: inner\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="i1"\n\n--i1\nContent-Type: text/plain\n\nInner body\n--i1\nContent-Type: message/rfc822\n\n' + inner2 + '--i1--\n'
w("05-nested-rfc822", H.format(5) + 'Subject: fwd\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="o"\n\n--o\nContent-Type: text/plain\n\nForwarded:\n--o\nContent-Type: message/rfc822\n\n' + inner1 + '--o--\n')
w("06-rfc2047", "Date: Tue, 02 Jan 2024 11:00:00 +0100\nFrom: =?ISO-8859-1?Q?Andr=E9?= <andre@example.fr>\nTo: =?UTF-8?B?w5xtbGF1dA==?= <u@example.de>\nSubject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= aus =?ISO-8859-1?Q?M=FCnchen?=\nMessage-ID: <6@example.fr>\n\nbody\n")
w("07-latin1", H.format(7) + 'Subject: latin1\nMIME-Version: 1.0\nContent-Type: text/plain; charset=ISO-8859-1\nContent-Transfer-Encoding: quoted-printable\n\nCaf=E9 cr=E8me br=FBl=E9e, soft=\n break.\n')
w("08-win1252", H.format(8), raw=(H.format(8) + 'Subject: cp1252\nMIME-Version: 1.0\nContent-Type: text/plain; charset=windows-1252\nContent-Transfer-Encoding: 8bit\n\n').encode() + "\u201cquoted\u201d \u20ac5 \u2014 dash\n".encode("cp1252"))
w("09-iso2022jp", H.format(9), raw=(H.format(9) + 'Subject: =?ISO-2022-JP?B?GyRCRnxLXDhsGyhC?=\nMIME-Version: 1.0\nContent-Type: text/plain; charset=ISO-2022-JP\nContent-Transfer-Encoding: 7bit\n\n').encode() + "日本語のテキストです。\n".encode("iso2022_jp"))
w("10-base64-text", H.format(10) + 'Subject: b64 text\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n' + base64.encodebytes("Grüße aus Köln, base64 encoded text.\n".encode()).decode())
w("11-malformed-noend", H.format(11) + 'Subject: no end boundary\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="x"\n\n--x\nContent-Type: text/plain\n\npart one\n--x\nContent-Type: text/plain\n\npart two never closed\n')
w("12-bad-base64", H.format(12) + 'Subject: bad b64\nMIME-Version: 1.0\nContent-Type: application/pdf\nContent-Transfer-Encoding: base64\n\nJVBERi0x!!!not*base64@@\nLjQK====\n')
w("13-8bit-headers", H.format(13), raw=(H.format(13) + "Subject: Grüße ohne Kodierung\n").encode() + "From2: x\n\nbody\n".encode())
w("14-no-body", H.format(14) + "Subject: no body\n")
w("15-headers-only", H.format(15) + "Subject: headers only\n\n")
w("16-long-folded", H.format(16) + "Subject: a very long subject line that has been folded\n over several lines because it is\n\tlonger than seventy-eight characters\nX-Long: " + " ".join(["word%d" % i for i in range(40)]) + "\n\nbody\n")
w("17-group", "Date: Wed, 03 Jan 2024 12:00:00 +0000\nFrom: Alice <alice@example.org>\nTo: undisclosed-recipients:;\nCc: Team: a@example.org, \"B, Jr.\" <b@example.org>;, c@example.org\nSubject: groups\nMessage-ID: <17@example.org>\n\nbody\n")
w("18-missing-date-from", "To: bob@example.net\nSubject: no date no from\n\nbody\n")
w("19-disposition-params", H.format(19) + 'Subject: disp\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="d"\n\n--d\nContent-Type: text/plain\nContent-Disposition: inline\n\ninline text\n--d\nContent-Type: image/png; name="p.png"\nContent-Disposition: attachment; filename="p.png"; creation-date="Mon, 01 Jan 2024 10:00:00 +0000"\nContent-Transfer-Encoding: base64\n\niVBORw0KGgo=\n--d--\n')
w("20-language-location", H.format(20) + 'Subject: lang\nMIME-Version: 1.0\nContent-Type: text/html; charset=utf-8\nContent-Language: en, de\nContent-Location: http://example.org/page.html\nContent-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\n\n<html><body><h1>Title</h1><p>Para  one.</p></body></html>\n')
w("21-html-only", H.format(21) + 'Subject: html only\nMIME-Version: 1.0\nContent-Type: text/html\n\n<html><head><style>p{}</style></head><body><p>Hello&nbsp;<i>world</i></p>\n<p>again</p></body></html>\n')
w("22-related", H.format(22) + 'Subject: related\nMIME-Version: 1.0\nContent-Type: multipart/related; boundary="r"; type="multipart/alternative"\n\n--r\nContent-Type: multipart/alternative; boundary="a"\n\n--a\nContent-Type: text/plain\n\ntext\n--a\nContent-Type: text/html\n\n<p>html</p>\n--a--\n--r\nContent-Type: image/gif\nContent-ID: <img1>\nContent-Transfer-Encoding: base64\n\nR0lGODlhAQABAAAAACw=\n--r--\n')
w("23-digest", H.format(23) + 'Subject: digest\nMIME-Version: 1.0\nContent-Type: multipart/digest; boundary="g"\n\n--g\n\nFrom: x@example.org\nSubject: one\n\nfirst\n--g\n\nFrom: y@example.org\nSubject: two\n\nsecond\n--g--\n')
w("24-unknown-cte", H.format(24) + 'Subject: uu\nMIME-Version: 1.0\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: x-uuencode\n\nbegin 644 f\n`\nend\n')
w("25-quoted-names", 'Date: Thu, 04 Jan 2024 08:00:00 -0500\nFrom: "Doe, John (Sales)" <john.doe@example.com>\nSender: list-bounces@example.com\nReply-To: list@example.com\nTo: "quote \\" inside" <q@example.com>, plain@example.com (comment)\nBcc: hidden@example.com\nIn-Reply-To: <parent@example.com>\nSubject: quoting\nMessage-ID: <25@example.com>\n\nbody\n')
w("26-empty-subject", H.format(26) + "Subject:\nCc:\n\nbody\n")
w("27-message-only", H.format(27) + 'Subject: whole rfc822\nMIME-Version: 1.0\nContent-Type: message/rfc822\n\n' + inner2)
w("28-qp-html-alt", H.format(28) + 'Subject: qp alt\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary="q"\n\n--q\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\nSch=F6ne Gr=FC=DFe\n--q\nContent-Type: text/html; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\n<p>Sch=F6ne Gr=FC=DFe</p>\n--q--\n')
w("29-no-mime-version", H.format(29) + 'Subject: ct without mime-version\nContent-Type: text/plain; format=flowed; delsp=yes; charset="UTF-8"\n\nflowed \ntext\n')
w("30-empty-multipart", H.format(30) + 'Subject: empty multipart\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="e"\n\n--e--\n')
w("31-no-trailing-newline", H.format(31) + "Subject: no final newline\n\nlast line without newline", crlf=True)
w("32-uppercase-type", H.format(32) + 'Subject: case\nMIME-Version: 1.0\nContent-Type: TEXT/PLAIN; CHARSET=UTF-8\nContent-Transfer-Encoding: 7BIT\n\nupper case type\n')

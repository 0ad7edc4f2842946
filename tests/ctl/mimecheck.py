#!/usr/bin/env python3
"""mimecheck.py MESSAGE HTML TEXT TO SUBJECT FROM [--delivered]

Checks a message of quarantined-report's mail step as a mail reader would
read it: no parse defects; exactly the headers From (only when FROM is not
empty), To, Subject, Date, Auto-Submitted, MIME-Version and Content-Type,
with TO, SUBJECT and FROM as given; multipart/mixed with two base64 parts,
a text/plain body that holds the figures and the text report TEXT as it
is, and the page HTML attached (text/html, a file name ending in .html)
byte for byte; every line at most 998 bytes, as SMTP requires.

--delivered: MESSAGE is as an MTA delivered it, with the headers it adds
before and among ours (Return-path, Envelope-to, Delivery-date, Received,
Message-Id, From when FROM is empty): ours must still be there in their
order, once each, and no other (no Cc, no Bcc).
"""
import email
import email.policy
import sys

msg_path, html_path, text_path, to, subject, sender = sys.argv[1:7]
delivered = sys.argv[7:] == ["--delivered"]
MTA_HEADERS = {"return-path", "envelope-to", "delivery-date", "received", "message-id"}
raw = open(msg_path, "rb").read()
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)


check(all(len(line) <= 998 for line in raw.split(b"\n")), "a line longer than 998 bytes")
check(b"\r" not in raw, "a carriage return")
msg = email.message_from_bytes(raw, policy=email.policy.default)
check(not msg.defects, f"defects: {msg.defects}")
names = [k for k, _ in msg.items()]
if delivered:
    names = [k for k in names if k.lower() not in MTA_HEADERS and (sender or k != "From")]
want = (["From"] if sender else []) + ["To", "Subject", "Date", "Auto-Submitted",
                                        "MIME-Version", "Content-Type"]
check(names == want, f"headers {names}, not {want}")
check(str(msg["To"]) == to, f"To: {msg['To']!r}, not {to!r}")
check(str(msg["Subject"]) == subject, f"Subject: {msg['Subject']!r}, not {subject!r}")
if sender:
    check(str(msg["From"]) == sender, f"From: {msg['From']!r}, not {sender!r}")
check(msg["Auto-Submitted"] == "auto-generated", "Auto-Submitted")
check(msg.get_content_type() == "multipart/mixed", msg.get_content_type())
parts = list(msg.iter_parts()) if msg.is_multipart() else []
check(len(parts) == 2, f"{len(parts)} parts, not 2")
if len(parts) == 2:
    body, page = parts
    for p in parts:
        check(not p.defects, f"part defects: {p.defects}")
        check(p["Content-Transfer-Encoding"] == "base64", "a part not in base64")
    check(body.get_content_type() == "text/plain", "the body is not text/plain")
    check(body.get_content_disposition() is None, "the body is an attachment")
    text = body.get_payload(decode=True)
    check(text.endswith(open(text_path, "rb").read()), "the body does not end with the text report")
    for k in (b"hosts detected", b"hosts blocked", b"open incidents"):
        check(k in text, f"the body lacks {k!r}")
    check(page.get_content_type() == "text/html", "the attachment is not text/html")
    check(page.get_content_disposition() == "attachment", "the page is not an attachment")
    check((page.get_filename() or "").endswith(".html"), f"file name {page.get_filename()!r}")
    check(page.get_payload(decode=True) == open(html_path, "rb").read(),
          "the attachment is not the page byte for byte")
for f in failures:
    print("mimecheck: " + f, file=sys.stderr)
sys.exit(1 if failures else 0)

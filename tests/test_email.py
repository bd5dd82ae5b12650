"""E-mail sources: .eml files and mbox archives become threads of the sender's own words."""

from __future__ import annotations

import mailbox
from email.message import EmailMessage
from pathlib import Path

from pipeline.sources.files import detect_format, expand_paths, read_records
from pipeline.sources.mail import own_words
from pipeline.sources.records import ReadOptions

BRAND = ReadOptions(business_names=("@acme.com",))


def mail(
    mid: str,
    sender: str,
    body: str,
    date: str,
    reply_to: str | None = None,
    refs: str | None = None,
    html: str | None = None,
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"], msg["Date"] = (
        sender,
        "support@acme.com",
        "Refund not received",
        date,
    )
    msg["Message-ID"] = mid
    if reply_to:
        msg["In-Reply-To"] = reply_to
    if refs:
        msg["References"] = refs
    msg.set_content(body)
    if html:
        msg.add_alternative(html, subtype="html")
    return msg


THREAD = [
    mail(
        "<a1@mail.example>",
        "Jane Doe <jane.doe@example.com>",
        "Hello,\nmy refund for order 1182 has not arrived yet.\nFrom now on please write to me here.\n\n-- \n"
        "Jane Doe\n+33 6 12 34 56 78",
        "Mon, 02 Nov 2026 09:00:00 +0100",
    ),
    mail(
        "<b1@acme.com>",
        "Acme Support <support@acme.com>",
        "Hello Jane, we are checking with the bank.\n\nOn Mon, 2 Nov 2026 at 09:00, Jane Doe "
        "<jane.doe@example.com>\nwrote:\n> Hello,\n> my refund for order 1182 has not arrived yet.",
        "Mon, 02 Nov 2026 10:00:00 +0100",
        reply_to="<a1@mail.example>",
        refs="<a1@mail.example>",
    ),
    # no References, only In-Reply-To a reply: still the same thread; a French client quoting in French
    mail(
        "<a2@mail.example>",
        "jane.doe@example.com",
        "Toujours rien, c'est inacceptable.\n\nEnvoyé de mon iPhone\n\nLe lun. 2 nov. 2026 à 10:00, Acme "
        "Support <support@acme.com> a écrit :\n> Hello Jane, we are checking with the bank.",
        "Tue, 03 Nov 2026 08:00:00 +0100",
        reply_to="<b1@acme.com>",
    ),
    # Outlook style: the original below a From/Sent block, HTML alternative with a quote container
    mail(
        "<a3@mail.example>",
        "jane.doe@example.com",
        "I want my money back today.\n\nFrom: Acme Support <support@acme.com>\nSent: Tuesday, November 3, "
        "2026 11:00\nTo: Jane\nSubject: RE: Refund\n\nWe are checking.",
        "Wed, 04 Nov 2026 08:00:00 +0100",
        reply_to="<a2@mail.example>",
        refs="<a1@mail.example> <b1@acme.com> <a2@mail.example>",
    ),
    mail(
        "<x1@mail.example>",
        "bob@example.org",
        "> only a quote of something\n> else",
        "Wed, 04 Nov 2026 09:00:00 +0100",
    ),
]


def write_thread(path: Path) -> Path:
    """An mbox with one four-message support thread and one message that is only a quote."""
    box = mailbox.mbox(path)
    for msg in THREAD:
        box.add(msg)
    box.flush()
    box.close()
    return path


def test_mbox_threads_roles_and_own_words(tmp_path):
    path = write_thread(tmp_path / "support.mbox")
    assert detect_format(path) == "email"
    records = list(read_records(path, options=BRAND))
    good = [r.data for r in records if r.data]
    assert len({d["conversation_id"] for d in good}) == 1
    assert [d["author_role"] for d in good] == ["customer", "agent", "customer", "customer"]
    assert (
        good[0]["text"]
        == "Hello,\nmy refund for order 1182 has not arrived yet.\nFrom now on please write to me here."
    )
    assert good[1]["text"] == "Hello Jane, we are checking with the bank."
    assert good[2]["text"] == "Toujours rien, c'est inacceptable."
    assert good[3]["text"] == "I want my money back today."
    assert good[0]["sent_at"] == "2026-11-02T09:00:00+01:00"
    assert good[0]["email"] == "jane.doe@example.com" and "email" not in good[1]  # hashed at ingest
    assert all("mail.example" not in d["conversation_id"] + d["message_id"] for d in good)
    bad = [r for r in records if r.data is None]
    assert len(bad) == 1 and "only quotes" in bad[0].error
    lines = path.read_text().splitlines()
    assert all(lines[r.line - 1].startswith("From ") for r in records)  # line = the message's separator


def test_eml_files_in_a_folder_thread_together(tmp_path):
    folder = tmp_path / "inbox"
    folder.mkdir()
    for i, msg in enumerate(THREAD[:2]):
        (folder / f"{i}.eml").write_bytes(bytes(msg))
    files = expand_paths([folder])
    assert [f.suffix for f in files] == [".eml", ".eml"]
    data = [r.data for f in files for r in read_records(f, options=BRAND)]
    assert data[0]["conversation_id"] == data[1]["conversation_id"]
    assert [d["author_role"] for d in data] == ["customer", "agent"]


def test_html_only_mail_keeps_the_text_and_drops_the_quote(tmp_path):
    msg = EmailMessage()
    msg["From"], msg["Message-ID"], msg["Date"] = (
        "c@example.org",
        "<h1@example.org>",
        "Thu, 05 Nov 2026 10:00:00 +0000",
    )
    msg.set_content(
        "<div>My parcel is <b>damaged</b>.</div><div class='gmail_quote'>On Wed ... wrote:"
        "<blockquote>Your parcel has shipped</blockquote></div>",
        subtype="html",
    )
    path = tmp_path / "h.eml"
    path.write_bytes(bytes(msg))
    (rec,) = read_records(path)
    assert " ".join(rec.data["text"].split()) == "My parcel is damaged ."


def test_own_words_keeps_inline_answers_between_quotes():
    body = "> Which order?\n1182\n> Which card?\nthe blue one\n\n-- \nJ."
    assert own_words(body) == "1182\nthe blue one"


def test_a_broken_message_is_quarantined_and_one_without_ids_kept(tmp_path):
    path = tmp_path / "broken.eml"
    path.write_bytes(
        b'Message-ID: <z@x.example>\nContent-Type: text/plain; charset="x-unknown-9"\n'
        b"Content-Transfer-Encoding: 8bit\n\nhello \xff there"
    )
    (rec,) = read_records(path, fmt="email")
    assert rec.data is None and rec.field == "body" and "x-unknown-9" in rec.error
    bare = tmp_path / "bare.eml"
    bare.write_bytes(b"From: c@example.org\nSubject: no ids at all\n\nwhere is my parcel")
    (rec,) = read_records(bare)
    assert rec.data["text"] == "where is my parcel" and rec.data["conversation_id"].startswith("email-")

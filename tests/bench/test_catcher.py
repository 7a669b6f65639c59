"""The bench's counting SMTP catcher, in its own process: counts and duplicates reach the
harness through its stats file."""

from __future__ import annotations

import smtplib
import time
from email.message import EmailMessage
from pathlib import Path

from bench.catcher import CountingCatcher


def send(port: int, message_id: str) -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "p@example.org", "a@example.org", "s"
    msg["Message-ID"] = message_id
    msg.set_content("t")
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.send_message(msg)


def test_the_catcher_counts_in_its_own_process(tmp_path: Path) -> None:
    catcher = CountingCatcher(stats=tmp_path / "catcher.json")
    catcher.start()
    try:
        assert catcher.pid is not None and (catcher.total, catcher.duplicates()) == (0, 0)
        for message_id in ("<a@x>", "<b@x>", "<a@x>"):
            send(catcher.port, message_id)
        deadline = time.monotonic() + 10
        while catcher.total < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert catcher.total == 3
        assert catcher.duplicates() == 1
        # Each read is of counts written after it was asked: no wait needed after a send.
        send(catcher.port, "<c@x>")
        assert catcher.total == 4
    finally:
        code = catcher.stop()
    assert code == 0  # stopped as asked (SIGTERM), not killed
    assert catcher.pid is None
    assert (catcher.total, catcher.duplicates()) == (4, 1)  # the last counts stay readable

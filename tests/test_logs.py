"""Log records carry strangers' text: written inertly, to a file while the console owns the terminal."""
from __future__ import annotations

import logging

from console import logs


def test_records_are_written_inertly_and_httpx_request_lines_are_kept_out(tmp_path):
    root = logging.getLogger()
    before = logs.saved()
    try:
        path = logs.to_file(tmp_path)
        log = logging.getLogger("groupwatch.test")
        log.warning("group renamed to %s", "\x1b]52;c;ZXZpbA==\x07[red]boss\u202e")
        try:
            raise ValueError("bad \x1b[2J answer")
        except ValueError:
            log.exception("poll failed")
        logging.getLogger("httpx").info("HTTP Request: GET https://api.telegram.org/bot123:SECRET/getUpdates")
        for h in root.handlers:
            h.flush()
        text = path.read_text(encoding="utf-8")
        assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
        assert "␛]52;c;ZXZpbA==␇[red]boss⟨U+202E⟩" in text  # shown, not obeyed
        assert "Traceback (most recent call last):" in text and "ValueError: bad ␛[2J answer" in text
        assert "SECRET" not in text
        # Installing again replaces ours instead of writing every line twice.
        logs.to_file(tmp_path)
        assert sum(getattr(h, "_groupwatch", False) for h in root.handlers) == 1
    finally:
        logs.restore(before)
    assert logs.saved() == before and logging.getLogger("httpx").level == before[2]["httpx"]

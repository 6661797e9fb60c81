"""``cdlab local logs -f``'s follower: the last lines, then every line written after them."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from cdlab import logfollow


def _append(path: Path, text: str) -> None:
    with path.open("a") as f:
        f.write(text)


def _opened(path: Path, text: str) -> BinaryIO:
    path.write_text(text)
    log = logfollow.open_log(path)
    assert log is not None
    return log


def test_lines_written_between_the_last_lines_and_the_following_are_shown(tmp_path: Path) -> None:
    path = tmp_path / "cloud.log"
    log = _opened(path, "one\ntwo\nthree\n")
    assert logfollow.last_lines(log, 2) == "two\nthree\n"
    _append(path, "four\n")  # written before the following starts: shown, not skipped
    lines = logfollow.new_lines(path, log)
    try:
        assert next(lines) == "four\n"
        assert next(lines) is None  # nothing new for now
        _append(path, "five\n")
        assert next(lines) == "five\n"
    finally:
        lines.close()
    assert log.closed


def test_no_last_lines_still_follows_from_the_end(tmp_path: Path) -> None:
    path = tmp_path / "cloud.log"
    log = _opened(path, "one\npartial")
    assert logfollow.last_lines(log, 0) == ""
    _append(path, " line\nnext\n")
    lines = logfollow.new_lines(path, log)
    try:
        assert [next(lines), next(lines)] == [" line\n", "next\n"]
    finally:
        lines.close()


def test_no_log_yet_is_none(tmp_path: Path) -> None:
    assert logfollow.open_log(tmp_path / "cloud.log") is None

"""Files with personal data are created owner-only, and one an older version left open is closed."""

from __future__ import annotations

import os
from pathlib import Path

from helpers.files import owner_only

from cm_source.private_files import open_private
from cm_source.write.rejects import Rejection, write_rejects


def test_a_new_file_is_owner_only_and_appending_keeps_what_was_written(tmp_path: Path) -> None:
    path = tmp_path / "folder" / "log.jsonl"
    with open_private(path) as out:
        out.write("one\n")
    with open_private(path, "a") as out:
        out.write("two\n")
    assert owner_only(path) and path.read_text(encoding="utf-8") == "one\ntwo\n"


def test_a_file_left_readable_by_others_is_made_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "rejects.csv"
    path.write_text("old\n", encoding="utf-8")
    os.chmod(path, 0o644)
    write_rejects(path, [Rejection({"email_address": "a@example.com", "name": "A"}, 1, "Invalid Email Address")])
    assert owner_only(path) and "a@example.com" in path.read_text(encoding="utf-8")

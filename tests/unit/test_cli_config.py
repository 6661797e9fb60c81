"""The local target's AWS config file, as the AWS CLI reads it."""

from __future__ import annotations

from pathlib import Path

import botocore.session
import pytest

from cdlab.localcloud import control


def test_the_cli_v2_reads_inline_blobs_as_raw_text_on_the_local_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``invoke-endpoint --body '{...}'`` as typed: the CLI v2 reads a blob given inline as
    base64 unless ``cli_binary_format`` is ``raw-in-base64-out`` in the profile it uses
    (https://docs.aws.amazon.com/cli/latest/userguide/cliv2-migration-changes.html)."""
    for key, value in control.client_environment(tmp_path, 4599).items():
        monkeypatch.setenv(key, value)
    scoped = botocore.session.Session().get_scoped_config()
    assert scoped["cli_binary_format"] == "raw-in-base64-out"

"""The ``invoke-endpoint`` command ``cdlab pipeline run`` prints for prod, run as printed with the
AWS CLI against a local endpoint (``test_pipeline`` runs it after a whole pipeline run)."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from cdlab.pipeline import summary
from tests.integration.test_endpoints import BODY, score


@pytest.mark.slow  # an endpoint's instance
def test_the_printed_invoke_command_sends_the_request_file_as_it_is(
    tmp_path: Path, deploy, aws
) -> None:
    name = deploy("hint", {"AllTraffic": (7, 1, 1)})
    body = tmp_path / "a dir" / "request.json"  # a path the shell must have quoted
    body.parent.mkdir()
    body.write_text(BODY)
    command = summary.invoke_command(name, body)
    assert "--body 'fileb://" in command  # raw bytes for the CLI v1 and v2 alike
    printed = aws(*shlex.split(command)[1:]).stdout
    answer, _ = json.JSONDecoder().raw_decode(printed)  # the body, then the CLI's own output
    assert answer["predictions"][0]["score"] == score(7)

"""The ``gristmill`` entry point (pipelines/cli.py): dispatch, and what it prints around a command."""
from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

from pipelines import cli

REPO = Path(__file__).resolve().parents[1]


def test_usage_lists_every_command_and_unknown_ones_fail(capsys):
    assert cli.main([]) == 0
    shown = capsys.readouterr().out
    assert all(f"  {name} " in shown for name in cli.COMMANDS)
    assert cli.main(["crawll"]) == 2
    assert "unknown command 'crawll'" in capsys.readouterr().err


def test_a_beam_command_prints_no_bigquery_notice():
    # Beam logs "apitools not found" on import unless its GCP extras are installed; gristmill uses no BigQuery
    notice = logging.makeLogRecord({"msg": "apitools not found, and bigquery client libraries are not available"})
    assert cli._no_bigquery_notice(notice) is False
    assert cli._no_bigquery_notice(logging.makeLogRecord({"msg": "something else"})) is True
    out = subprocess.run([sys.executable, "-m", "pipelines.cli", "triggers", "--help"], cwd=REPO,
                         capture_output=True, text=True, timeout=120, check=True)
    assert "--min_docs" in out.stdout and "apitools" not in out.stderr

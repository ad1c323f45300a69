"""``python -m fdl.milestones``: every milestone listed, built ones run against their target."""

from __future__ import annotations

import json

from fdl.cli import main as fdl_main
from fdl.milestones import main


def test_smoke_milestones_run_and_report(capsys, progress_file):
    code = main(["--smoke", "--json"])
    rows = json.loads(capsys.readouterr().out)
    assert [r["topic"] for r in rows] == [10, 17, 24, 30, 34]
    first = rows[0]
    assert first["status"] == "met" and first["targets"][0]["name"] == "test_accuracy"
    assert first["metrics"]["epochs"] == 2
    assert all(r["status"] == "not built" for r in rows[1:])
    assert code == 0
    assert fdl_main(["milestones", "--smoke"]) == 0
    out = " ".join(capsys.readouterr().out.split())  # rich wraps table cells
    assert "First Neural" in out and "not built" in out and "met" in out

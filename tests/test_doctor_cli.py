"""``python -m fdl.doctor`` and the ``fdl`` command."""

from __future__ import annotations

import json

from fdl.cli import main as fdl_main
from fdl.doctor import collect, main as doctor_main


def test_doctor_reports_versions_devices_pallas_data_and_progress(capsys):
    assert doctor_main([]) == 0
    out = capsys.readouterr().out
    for piece in ("python", "numpy", "jax", "optax", "backend cpu", "pallas", "interpret", "data", "progress",
                  "topics"):
        assert piece in out, piece


def test_doctor_json_is_complete(capsys):
    assert doctor_main(["--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["jax"]["backend"] == "cpu"
    assert info["pallas"]["mode"] == "interpret" and info["pallas"]["available"]
    assert "files" in info["data"] and info["progress"]["from"] == "FDL_PROGRESS"
    assert 1 in info["topics"]["built"]


def test_doctor_collect_never_downloads(monkeypatch):
    import urllib.request

    def refuse(*args, **kwargs):
        raise AssertionError("the doctor must not download")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    collect()


def test_fdl_command_dispatches(capsys, progress_file):
    assert fdl_main([]) == 2
    assert fdl_main(["--help"]) == 0
    assert "fdl run TOPIC" in capsys.readouterr().out
    assert fdl_main(["progress", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["total"] == 38
    assert fdl_main(["bogus-flag-only", "--x"]) == 2  # an unknown topic
    assert fdl_main(["--bogus"]) == 2

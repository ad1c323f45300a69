"""``python -m fdl.run``: naming, exit codes, the learner's file, --impl, --json, progress."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fdl.curriculum import find_topic
from fdl.run import main
from fdl.track import TRACKS_DIR

from helpers import shipped_stub, use_as_own_file

T01 = find_topic(1)
REFERENCE = TRACKS_DIR / T01.folder / "reference.py"


def run_json(capsys, *args) -> tuple[int, dict]:
    code = main([*args, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out)


@pytest.fixture
def learner_copy(tmp_path) -> Path:
    """A learner file that is a complete, correct solution (a copy of the reference)."""
    path = tmp_path / "mine.py"
    path.write_text(REFERENCE.read_text())
    return path


@pytest.fixture
def out_dir(tmp_path) -> str:
    return str(tmp_path / "runs")


def test_stub_reports_todo_and_runs_on_the_reference(capsys, tmp_path, out_dir):
    stub = shipped_stub(T01, tmp_path)
    code, report = run_json(capsys, "topic01", "--smoke", "--exercise", str(stub), "--out", out_dir)
    assert code == 0
    assert report["topic"]["number"] == 1
    assert {e["status"] for e in report["exercises"]} == {"TODO"}
    assert {e["implementation"] for e in report["exercises"]} == {"reference"}
    assert len(report["exercises"]) == 15
    assert report["run"]["metrics"]["speedup_matmul"] > 1
    assert all(Path(p).is_file() for p in report["run"]["plots"])


def test_runner_checks_the_learners_file_not_the_reference(capsys, learner_copy, out_dir):
    code, report = run_json(capsys, "1", "--smoke", "--exercise", str(learner_copy), "--out", out_dir)
    assert code == 0
    assert {e["status"] for e in report["exercises"]} == {"PASS"}
    assert {e["implementation"] for e in report["exercises"]} == {"mine"}
    # break one function in the learner's file: exactly that exercise fails and falls back
    text = learner_copy.read_text().replace("return dout * (1.0 - out * out)", "return dout * (1.0 - out)")
    learner_copy.write_text(text)
    code, report = run_json(capsys, "1", "--smoke", "--exercise", str(learner_copy), "--out", out_dir)
    assert code == 1
    status = {e["exercise"]: (e["status"], e["implementation"]) for e in report["exercises"]}
    assert status["tanh"] == ("FAIL", "reference")
    assert status["add"] == ("PASS", "mine")
    assert "gradient of x" in next(e["message"] for e in report["exercises"] if e["exercise"] == "tanh")


def test_syntax_error_fails_every_exercise_and_loses_nothing(capsys, learner_copy, out_dir):
    broken = learner_copy.read_text().replace("def add_forward(a, b):", "def add_forward(a, b)")
    learner_copy.write_text(broken)
    code, report = run_json(capsys, "t01", "--smoke", "--exercise", str(learner_copy), "--out", out_dir)
    assert code == 1
    assert {e["status"] for e in report["exercises"]} == {"FAIL"}
    assert "syntax error at line" in report["exercises"][0]["message"]
    assert report["run"]["metrics"]  # the run still happened, on the reference
    assert learner_copy.read_text() == broken


def test_error_at_import_time_is_reported(capsys, learner_copy, out_dir):
    learner_copy.write_text("import numpy as np\nraise RuntimeError('half-finished edit')\n")
    code, report = run_json(capsys, "tensor_ops", "--smoke", "--exercise", str(learner_copy), "--out", out_dir)
    assert code == 1
    assert "raised RuntimeError while loading at line 2" in report["exercises"][0]["message"]


@pytest.mark.parametrize("name", ["topic3x", "99", "t00", "tensors"])
def test_unknown_topic_is_a_usage_error_listing_topics(capsys, name):
    assert main([name]) == 2
    err = capsys.readouterr().err
    assert "unknown topic" in err or "there is no topic" in err
    assert "01 tensor_ops" in err or "numbered 1 to 38" in err


def test_unbuilt_topic_says_so(capsys):
    assert main(["topic37"]) == 2
    assert "not built yet" in capsys.readouterr().err


def test_missing_exercise_file_is_a_usage_error(capsys, tmp_path):
    assert main(["1", "--exercise", str(tmp_path / "nope.py")]) == 2
    assert "no exercise file" in capsys.readouterr().err


def test_bad_option_is_a_usage_error(capsys):
    assert main(["1", "--impl", "theirs"]) == 2


def test_impl_mine_refuses_unfinished_code(capsys, tmp_path):
    code, report = run_json(capsys, "1", "--smoke", "--impl", "mine", "--exercise", str(shipped_stub(T01, tmp_path)))
    assert code == 1
    assert "--impl mine needs every exercise" in report["error"]


def test_impl_reference_ignores_passing_code(capsys, learner_copy, out_dir):
    code, report = run_json(capsys, "1", "--smoke", "--impl", "reference", "--exercise", str(learner_copy),
                            "--out", out_dir)
    assert code == 0
    assert {e["status"] for e in report["exercises"]} == {"PASS"}
    assert {e["implementation"] for e in report["exercises"]} == {"reference"}


def test_progress_is_recorded_and_goes_stale_after_an_edit(capsys, learner_copy, progress_file, out_dir,
                                                          monkeypatch):
    from fdl.progress import Progress

    use_as_own_file(monkeypatch, T01, learner_copy)
    assert main(["1", "--smoke", "--out", out_dir]) == 0
    progress = Progress.load(progress_file)
    entry = progress.topic(T01)
    assert entry["status"] == "done" and entry["passed"] == 15 and entry["total"] == 15
    assert "file" not in entry
    assert progress.stale(T01) is None
    learner_copy.write_text(learner_copy.read_text() + "\n# an edit\n")
    assert "changed since it passed" in Progress.load(progress_file).stale(T01)


def test_a_scratch_file_records_nothing_and_says_so(capsys, learner_copy, progress_file, out_dir, monkeypatch,
                                                    tmp_path):
    from fdl.progress import Progress

    use_as_own_file(monkeypatch, T01, learner_copy)
    assert main(["1", "--smoke", "--out", out_dir]) == 0
    before = progress_file.read_bytes()
    capsys.readouterr()
    scratch = tmp_path / "scratch" / "x.py"
    scratch.parent.mkdir()
    scratch.write_text("import numpy as np\n")  # every exercise missing: TODO
    code, report = run_json(capsys, "1", "--smoke", "--exercise", str(scratch), "--out", out_dir)
    assert code == 0
    assert progress_file.read_bytes() == before
    assert str(scratch) in report["progress_not_recorded"]
    main(["1", "--smoke", "--exercise", str(scratch), "--out", out_dir])
    assert "progress not recorded" in " ".join(capsys.readouterr().out.split())
    entry = Progress.load(progress_file).topic(T01)
    assert entry["status"] == "done" and entry["passed"] == 15 and Progress.load(progress_file).stale(T01) is None


def test_malformed_progress_file_is_reported_and_left_alone(capsys, learner_copy, progress_file, out_dir,
                                                             monkeypatch):
    use_as_own_file(monkeypatch, T01, learner_copy)
    progress_file.write_text("[topics.t01_tensor_ops\nstatus = 'done'\n")
    before = progress_file.read_bytes()
    code = main(["1", "--smoke", "--out", out_dir])
    assert code == 0  # the checks and the run are fine; only recording was refused
    err = capsys.readouterr().err
    assert "progress not recorded" in err and ":1:" in err
    assert progress_file.read_bytes() == before


def test_no_progress_flag_writes_nothing(capsys, learner_copy, progress_file, out_dir):
    assert main(["1", "--smoke", "--no-progress", "--exercise", str(learner_copy), "--out", out_dir]) == 0
    assert not progress_file.exists()


def test_human_output_shows_table_and_which_code_ran(capsys, tmp_path, out_dir):
    assert main(["topic01", "--smoke", "--exercise", str(shipped_stub(T01, tmp_path)), "--out", out_dir]) == 0
    out = capsys.readouterr().out
    for piece in ("Tensor operations & broadcasting", "broadcast_shape", "TODO", "this run uses: all reference",
                  "plot saved", "figures"):
        assert piece in out, piece


def test_python_dash_m_entry_point(tmp_path):
    """The real command line, in a subprocess, as a learner types it."""
    proc = subprocess.run([sys.executable, "-m", "fdl.run", "topic01", "--smoke", "--json", "--out",
                           str(tmp_path), "--progress", str(tmp_path / "p.toml")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["exit_code"] == 0


def test_dependency_with_a_missing_learner_file_falls_back_to_the_reference(monkeypatch, tmp_path):
    import fdl.track
    from fdl.session import Session

    monkeypatch.setattr(fdl.track, "default_exercise_path", lambda topic: tmp_path / "gone.py")
    impl = Session().implementation(find_topic(1), announce=False)
    assert set(impl.chosen.values()) == {"reference"}
    assert impl.add_forward is fdl.track.track_module(find_topic(1), "reference").add_forward


def test_compilation_cache_setting(monkeypatch, tmp_path):
    from fdl.jaxcache import compilation_cache_dir

    monkeypatch.setenv("FDL_JAX_CACHE", "0")
    assert compilation_cache_dir() is None
    monkeypatch.setenv("FDL_JAX_CACHE", str(tmp_path / "c"))
    assert compilation_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("FDL_JAX_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert compilation_cache_dir() == tmp_path / "xdg" / "fdl" / "jax"

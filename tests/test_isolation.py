"""Learner code cannot break the harness: exits, crashes, floods of output, endless loops, Ctrl-C.

Every test runs the real runner on a learner file that misbehaves in one way, and shows that fdl
reports it as a FAIL (with the learner's line where there is one), checks the other exercises,
keeps ``--json`` parseable and exits only with its documented codes (0, 1, 2, 130).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from fdl.curriculum import find_topic
from fdl.run import main
from fdl.track import TRACKS_DIR

T01 = find_topic(1)
REFERENCE = TRACKS_DIR / T01.folder / "reference.py"


def learner_file(tmp_path: Path, body: str, name: str = "mine.py") -> Path:
    """The reference's functions, then ``body`` (which redefines some of them)."""
    path = tmp_path / name
    path.write_text(REFERENCE.read_text() + "\n\n# ---- the learner's changes\n" + textwrap.dedent(body))
    return path


def run_json(capsys, path: Path, tmp_path: Path, *extra) -> tuple[int, dict, str]:
    code = main(["1", "--smoke", "--json", "--no-progress", "--exercise", str(path), "--out", str(tmp_path / "runs"),
                 *extra])
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


def by_name(report: dict) -> dict:
    return {e["exercise"]: e for e in report["exercises"]}


def test_sys_exit_and_os_exit_are_fails_with_their_line(capsys, tmp_path):
    path = learner_file(tmp_path, """
        import os, sys

        def mul_forward(a, b):
            sys.exit(3)

        def div_forward(a, b):
            os._exit(4)
    """)
    code, report, _ = run_json(capsys, path, tmp_path)
    assert code == 1 and report["exit_code"] == 1  # a failed check, never the learner's exit code
    ex = by_name(report)
    assert ex["mul"]["status"] == "FAIL" and "sys.exit" in ex["mul"]["message"]
    assert "mine.py:" in ex["mul"]["message"] and "sys.exit(3)" in ex["mul"]["message"]
    assert ex["div"]["status"] == "FAIL" and "os._exit" in ex["div"]["message"] and "os._exit(4)" in ex["div"]["message"]
    assert ex["add"]["status"] == "PASS" and ex["matmul"]["status"] == "PASS"
    assert ex["mul"]["implementation"] == "reference"


def test_a_process_that_dies_is_reported_and_the_rest_is_checked(capsys, tmp_path):
    path = learner_file(tmp_path, """
        import os

        def pow_forward(a, b):
            os.abort()
    """)
    code, report, _ = run_json(capsys, path, tmp_path)
    ex = by_name(report)
    assert code == 1
    assert ex["pow"]["status"] == "FAIL" and "SIGABRT" in ex["pow"]["message"]
    later = [e for e in T01.exercise_names if T01.exercise_names.index(e) > T01.exercise_names.index("pow")]
    assert all(ex[name]["status"] == "PASS" for name in later)


def test_what_the_learner_prints_comes_back_with_the_verdict_and_json_stays_clean(capsys, tmp_path):
    path = learner_file(tmp_path, """
        import ctypes
        print("hello from the top of the file")
        _reference_mul = mul_forward

        def mul_forward(a, b):
            print("mul called with", a.shape, b.shape)
            ctypes.CDLL(None).puts(b"and from C")
            return _reference_mul(a, b)
    """)
    code, report, err = run_json(capsys, path, tmp_path)
    assert code == 0  # the run calls mul_forward too: its prints went to stderr, stdout is the JSON
    mul = by_name(report)["mul"]
    assert mul["status"] == "PASS"
    assert "mul called with (3, 4)" in mul["output"] and "and from C" in mul["output"]
    assert by_name(report)["add"]["output"] is None
    assert "hello from the top of the file" in err
    main(["1", "--smoke", "--no-progress", "--exercise", str(path), "--out", str(tmp_path / "runs")])
    out = capsys.readouterr().out
    assert "mul printed" in out and "| mul called with" in out


def test_heavy_printing_passes_quickly_and_is_truncated(capsys, tmp_path):
    path = learner_file(tmp_path, """
        _reference_exp = exp_forward

        def exp_forward(x):
            for _ in range(20000):
                print("x" * 99)
            return _reference_exp(x)
    """)
    started = time.perf_counter()
    code, report, _ = run_json(capsys, path, tmp_path, "--impl", "reference")
    exp = by_name(report)["exp"]
    assert exp["status"] == "PASS" and exp["output_bytes"] >= 20000 * 100
    assert len(exp["output"]) < 5000 and "bytes not shown" in exp["output"]
    assert time.perf_counter() - started < 120


def test_an_endless_loop_is_stopped_and_named(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("FDL_TIME_LIMIT", "2")
    path = learner_file(tmp_path, """
        import signal

        def exp_forward(x):
            while True:
                pass

        def log_forward(x):
            signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGALRM])  # deaf to the check's own alarm
            while True:
                pass
    """)
    code, report, _ = run_json(capsys, path, tmp_path)
    ex = by_name(report)
    assert code == 1
    assert ex["exp"]["status"] == "FAIL" and "did not finish within 2 s" in ex["exp"]["message"]
    assert "mine.py" in ex["exp"]["message"] or "exp_forward" in ex["exp"]["message"]
    assert ex["log"]["status"] == "FAIL" and "did not finish within 2 s and was stopped" in ex["log"]["message"]
    assert ex["tanh"]["status"] == "PASS"  # checked by a new worker


def test_input_reads_an_empty_stdin(capsys, tmp_path):
    path = learner_file(tmp_path, """
        def tanh_forward(x):
            input("press enter ")
    """)
    code, report, _ = run_json(capsys, path, tmp_path)
    assert by_name(report)["tanh"]["status"] == "FAIL" and "EOFError" in by_name(report)["tanh"]["message"]


@pytest.mark.parametrize("line,needle", [("import sys; sys.exit(2)", "called sys.exit"),
                                         ("import os; os._exit(5)", "called os._exit"),
                                         ("raise RuntimeError('no')", "raised RuntimeError"),
                                         ("def broken(:\n    pass", "syntax error at line")])
def test_a_file_that_does_not_load_is_reported_once(capsys, tmp_path, line, needle):
    path = tmp_path / "mine.py"
    path.write_text("import numpy as np\n" + line + "\n")
    code, report, _ = run_json(capsys, path, tmp_path)
    assert code == 1 and needle in report["file_error"]
    assert {e["status"] for e in report["exercises"]} == {"FAIL"}
    assert all("did not load" in e["message"] for e in report["exercises"])
    main(["1", "--smoke", "--no-progress", "--exercise", str(path), "--out", str(tmp_path / "runs")])
    out = " ".join(capsys.readouterr().out.split())
    assert out.count(needle) == 1, out


def test_fail_lines_carry_no_markup_and_failing_rows_show_the_failing_figures(capsys, tmp_path):
    path = learner_file(tmp_path, """
        import numpy as np

        def tanh_backward(dout, out):
            return dout * (1.0 - out)

        def exp_backward(dout, cache):
            return dout * np.nan
    """)
    code, report, _ = run_json(capsys, path, tmp_path)
    tanh, exp = by_name(report)["tanh"], by_name(report)["exp"]
    assert tanh["status"] == "FAIL" and tanh["worst_abs_error"] > 1e-3  # the real difference, not a passing one
    assert exp["status"] == "FAIL" and exp["worst_abs_error"] == "nan"
    main(["1", "--smoke", "--no-progress", "--exercise", str(path), "--out", str(tmp_path / "runs")])
    out = capsys.readouterr().out
    assert "FAIL tanh: " in out and "[red" not in out and "[/]" not in out


def test_usage_errors_are_in_the_json(capsys):
    for argv, needle in ((["bogus", "--json"], "unknown topic"), (["1", "--impl", "nobody", "--json"], "--impl"),
                         (["1", "--seed", "x", "--json"], "--seed")):
        assert main(argv) == 2
        report = json.loads(capsys.readouterr().out)
        assert needle in report["error"] and report["exit_code"] == 2


def test_unknown_fdl_command(capsys):
    from fdl.cli import main as fdl_main

    assert fdl_main(["bogus"]) == 2
    assert "unknown command 'bogus'" in capsys.readouterr().err


def test_doctor_rows_have_no_none(capsys):
    from fdl.doctor import main as doctor_main

    assert doctor_main([]) == 0
    data_lines = [line for line in capsys.readouterr().out.splitlines() if "ubyte" in line or ".tar.gz" in line]
    assert data_lines and not any("None" in line for line in data_lines)


def test_ctrl_c_during_the_checks_is_a_clean_interruption(tmp_path):
    """The real command in a subprocess: SIGINT while a check runs gives 'interrupted', exit 130, valid JSON."""
    path = learner_file(tmp_path, """
        def add_forward(a, b):
            while True:
                pass
    """)
    env = {**os.environ, "FDL_TIME_LIMIT": "300"}
    proc = subprocess.Popen([sys.executable, "-m", "fdl.run", "1", "--smoke", "--json", "--no-progress",
                             "--exercise", str(path), "--out", str(tmp_path / "runs")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 120
    seen = ""
    while time.monotonic() < deadline and "add" not in seen:  # wait until the add check is running
        time.sleep(1)
        seen = _children_cmdlines(proc.pid)
    time.sleep(2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert json.loads(out)["error"] == "interrupted"


def _children_cmdlines(pid: int) -> str:
    """Whether the worker has started: a stand-in for 'the check is running' (no sleep-and-hope on output)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return "add"  # no /proc: fall back to the sleep below
    return "add" if children else ""

"""The repository keeps its promises: the README's quick start and CI agree."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def quickstart() -> list[str]:
    text = (REPO / "README.md").read_text()
    block = re.search(r"<!-- quickstart -->\s*```bash\n(.*?)```\s*<!-- /quickstart -->", text, re.S)
    assert block, "README.md must hold the quick start between <!-- quickstart --> markers"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_quickstart_is_two_commands_main_job_then_tests():
    commands = quickstart()
    assert len(commands) == 2
    assert "-m fdl.run topic" in commands[0] and "pip install" in commands[0]
    assert "pytest" in commands[1] and "[dev]" in commands[1]


def test_quickstart_main_job_is_a_built_topic():
    from fdl.curriculum import TOPICS, find_topic

    name = re.search(r"-m fdl.run (\S+)", quickstart()[0]).group(1)
    topic = find_topic(name)
    assert topic.built
    # topic 30 is the main job once it exists; until then, the highest finished topic
    expected = 30 if find_topic(30).built else max(t.number for t in TOPICS if t.built)
    assert topic.number == expected


def test_ci_runs_the_readme_test_command():
    script = REPO / ".ci" / "run"
    assert script.is_file() and script.stat().st_mode & 0o111
    extracted = subprocess.run(
        ["bash", "-c", "sed -n '/<!-- quickstart -->/,/<!-- \\/quickstart -->/p' README.md | grep -m1 'pytest'"],
        cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()
    assert extracted == quickstart()[1]
    assert '.ci/clean-env bash -c "$test_command"' in script.read_text()


def test_ci_hides_tools_installed_by_hand(tmp_path):
    """The README's test command runs without this machine's PATH: a tool found only there is not found in CI."""
    tool = tmp_path / "bin" / "handmade-tool"
    tool.parent.mkdir()
    tool.write_text("#!/bin/sh\necho found\n")
    tool.chmod(0o755)
    env = {**os.environ, "PATH": f"{tool.parent}:{os.path.dirname(sys.executable)}:{os.environ.get('PATH', '')}",
           "VIRTUAL_ENV": str(REPO / ".venv")}
    found_here = subprocess.run(["bash", "-c", "command -v handmade-tool"], env=env, capture_output=True, text=True)
    assert found_here.returncode == 0
    in_ci = subprocess.run([str(REPO / ".ci" / "clean-env"), "bash", "-c",
                            "command -v handmade-tool; echo \"PATH=$PATH\"; echo \"VENV=${VIRTUAL_ENV:-}\""],
                           env=env, capture_output=True, text=True, cwd=REPO)
    lines = in_ci.stdout.splitlines()
    assert lines[-1] == "VENV=", "no virtual environment is active in CI"
    path = lines[-2].removeprefix("PATH=").split(":")
    assert str(tool.parent) not in path and os.path.dirname(sys.executable) not in path, path
    assert len(lines) == 2, f"a tool installed by hand was found: {lines[0]}"


def test_no_test_calls_a_tool_from_path():
    """Tools the tests run come from this interpreter's environment (`sys.executable -m tool`)."""
    offenders = []
    for path in sorted((REPO / "tests").glob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if re.search(r"subprocess\.\w+\(\s*\[\s*[\"'](ruff|pytest|pip|python3?|fdl)[\"']", line):
                offenders.append(f"{path.name}:{number}: {line.strip()}")
    assert not offenders, "call tools as [sys.executable, '-m', tool]:\n" + "\n".join(offenders)


def test_lint_is_clean():
    """Unused imports, undefined names and syntax errors: ruff, configured in pyproject.toml."""
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "--output-format", "concise", "."], cwd=REPO, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr

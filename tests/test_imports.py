"""What a topic may import, and the registry's prerequisites against what runs use (docs/adding_a_topic.md).

A topic reaches the engine only through ``ctx`` (its run) and the checker
library: it never imports the runner, progress.toml or the worker, so the
engine alone records progress and milestones. A learner's file imports NumPy,
the given helpers and the learner's own earlier files, never a reference.
``pallas_kernels/`` imports only JAX.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

from fdl.curriculum import TOPICS

REPO = Path(__file__).resolve().parent.parent
BUILT = [t for t in TOPICS if t.built]
STDLIB = set(sys.stdlib_module_names)
THIRD_PARTY = {"numpy", "jax", "jaxlib", "optax", "chex", "matplotlib", "rich"}
ENGINE_FOR_TOPICS = {"fdl.check", "fdl.train", "fdl.plot", "fdl.data", "fdl.errors", "fdl.given"}


def imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def _engine_part(module: str) -> str:
    return ".".join(module.split(".")[:2])


def _topic_number(module: str) -> int | None:
    match = re.match(r"tracks\.t(\d\d)_", module)
    return int(match.group(1)) if match else None


@pytest.mark.parametrize("topic", BUILT, ids=lambda t: t.folder)
def test_a_topic_imports_only_what_it_may(topic):
    wrong = []
    for path in sorted((REPO / "tracks" / topic.folder).glob("*.py")):
        learner = path.name == "exercise.py"
        for line, module in imports(path):
            root = module.split(".")[0]
            if root == "fdl":
                allowed = {"fdl.given"} if learner else ENGINE_FOR_TOPICS
                ok = _engine_part(module) in allowed
            elif root == "tracks":
                number = _topic_number(module)
                ok = number is not None and number <= topic.number and (
                    not learner or module.endswith(".exercise"))
                ok = ok and (number != topic.number or not learner)
            elif learner:
                ok = root in {"numpy", "math", "typing", "dataclasses", "__future__", "collections", "functools"}
            else:
                ok = root in STDLIB or root in THIRD_PARTY
            if not ok:
                wrong.append(f"tracks/{topic.folder}/{path.name}:{line}: import {module}")
    assert not wrong, "imports a topic may not make (see docs/adding_a_topic.md):\n" + "\n".join(wrong)


def test_pallas_kernels_import_only_jax():
    wrong = []
    for path in sorted((REPO / "pallas_kernels").rglob("*.py")):
        for line, module in imports(path):
            root = module.split(".")[0]
            if not (root in {"jax", "jaxlib"} or root in STDLIB or root == "pallas_kernels"):
                wrong.append(f"{path.relative_to(REPO)}:{line}: import {module}")
    assert not wrong, "pallas_kernels/ depends on JAX alone:\n" + "\n".join(wrong)


@pytest.mark.parametrize("topic", BUILT, ids=lambda t: t.folder)
def test_prerequisites_name_every_topic_a_run_uses(topic):
    text = (REPO / "tracks" / topic.folder / "run.py").read_text()
    used = {int(n) for n in re.findall(r"ctx\.use\((\d+)\)", text)}
    imported = {_topic_number(m) for _, m in imports(REPO / "tracks" / topic.folder / "run.py")} - {None}
    needed = (used | imported) - {topic.number}
    missing = sorted(needed - set(topic.prerequisites))
    assert not missing, f"{topic.label}'s run uses topics {missing}; add them to its prerequisites in fdl/curriculum.py"
    assert all(p < topic.number for p in topic.prerequisites), "prerequisites come earlier in the course"

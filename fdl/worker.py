"""Checks run in a worker process, so nothing the learner's code does can take fdl down with it.

The runner never executes a learner's file in its own process to judge it.
:func:`check_in_worker` sends the request to a worker (``python -m fdl.worker``,
started once per fdl process and reused), which loads the file, runs each
exercise's check with :func:`fdl.check.run_check`, and streams the results
back over a socket, one JSON line per event. Then:

- ``sys.exit()`` or ``os._exit()`` in the learner's code is a FAIL with its
  line (the harness turns both into exceptions), and a process that dies
  anyway (a crash in C code, a ``kill``) is a FAIL for the exercise that was
  running, with how it ended; the worker is started again for the rest;
- whatever the learner's code prints, in Python or in C, goes to a file per
  exercise (the worker's file descriptors 1 and 2 point there), comes back
  with the verdict, and never reaches fdl's own output or ``--json``;
- an exercise that runs past its time limit is stopped by killing the worker,
  whatever it is stuck in; the caller is told every quarter second which
  exercise is running and for how long;
- the learner's ``input()`` reads an empty stdin, and Ctrl-C reaches only
  fdl, which stops the worker and says "interrupted".

``FDL_ISOLATE=0`` checks in fdl's own process instead (to debug a check
with pdb); learner code can then end fdl.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

__all__ = ["check_in_worker", "isolation_enabled", "stop_worker", "OUTPUT_LIMIT"]

OUTPUT_LIMIT = 4000  # characters of a learner's output kept per exercise (its start and its end)


def _grace(time_limit: float) -> float:
    """Seconds past an exercise's time limit before the worker is killed (its own alarm fires first)."""
    return max(2.0, min(15.0, 0.25 * time_limit))
_TICK = 0.25  # seconds between "still running" reports


def isolation_enabled() -> bool:
    return os.environ.get("FDL_ISOLATE", "1").strip().lower() not in ("0", "off", "false", "no")


class WorkerDied(Exception):
    """The worker process ended in the middle of a request."""

    def __init__(self, how: str, log: str = ""):
        super().__init__(how)
        self.how = how
        self.log = log


# --------------------------------------------------------------------------- the parent's side
class _Worker:
    def __init__(self) -> None:
        parent, child = socket.socketpair()
        self.log = tempfile.TemporaryFile()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)  # what this process can import
        env.setdefault("PYTHONUNBUFFERED", "1")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "fdl.worker", str(child.fileno())],
            pass_fds=(child.fileno(),), stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log, env=env,
            start_new_session=False,
        )
        child.close()
        self.sock = parent
        self.buffer = b""

    def alive(self) -> bool:
        return self.process.poll() is None

    def send(self, message: dict) -> None:
        try:
            self.sock.sendall((json.dumps(message) + "\n").encode())
        except OSError:
            raise WorkerDied(self._how()) from None

    def receive(self, timeout: float) -> dict | None:
        """The next message, or None when ``timeout`` passes first."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([self.sock], [], [], left)
            if not ready:
                return None
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                self.process.wait()
                raise WorkerDied(self._how(), self._log_tail())
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return json.loads(line)

    def _how(self) -> str:
        code = self.process.poll()
        if code is None:
            return "the checking process stopped answering"
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return f"the checking process was killed by {name}"
        return f"the checking process exited with code {code}"

    def _log_tail(self) -> str:
        try:
            self.log.seek(0)
            return self.log.read().decode(errors="replace")[-2000:]
        except OSError:
            return ""

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.process.kill()
        with contextlib.suppress(Exception):
            self.process.wait(timeout=10)
        with contextlib.suppress(OSError):
            self.sock.close()
        with contextlib.suppress(OSError):
            self.log.close()


_WORKER: _Worker | None = None


def _worker() -> _Worker:
    global _WORKER
    if _WORKER is None or not _WORKER.alive():
        if _WORKER is not None:
            _WORKER.kill()
        _WORKER = _Worker()
    return _WORKER


def stop_worker() -> None:
    global _WORKER
    if _WORKER is not None:
        _WORKER.kill()
        _WORKER = None


atexit.register(stop_worker)


def check_in_worker(
    request: dict[str, Any],
    exercises: list[str],
    *,
    time_limit: float,
    on_event: Callable[[dict], None],
) -> None:
    """Run ``request`` (a ``check`` for ``exercises``) in the worker; every event goes to ``on_event``.

    Events: ``loaded`` (``error``, ``output``), ``start`` (``exercise``), ``running`` (``exercise``,
    ``seconds``; every quarter second), ``result`` (``result``: an ExerciseResult as a dict), and
    ``died`` (``exercise`` or None while loading, ``how``, ``seconds``, ``output``) when the process
    ended or was stopped for its time; the worker is then started again for the exercises left.
    KeyboardInterrupt stops the worker and propagates.
    """
    left = list(exercises)
    loaded = False
    for _ in range(len(exercises) + 3):  # a worker that keeps dying must not loop forever
        if loaded and not left:
            return
        worker = _worker()
        current: str | None = None
        started = time.monotonic()
        try:
            worker.send({**request, "only": left})
            while True:
                message = worker.receive(_TICK)
                now = time.monotonic()
                if message is None:
                    on_event({"event": "running", "exercise": current, "seconds": now - started})
                    if current is not None and now - started > time_limit + _grace(time_limit):
                        worker.kill()
                        on_event({"event": "died", "exercise": current, "seconds": now - started,
                                  "how": f"stopped after {now - started:.0f} s", "timeout": True,
                                  "output": _read_capture(request, current)})
                        left.remove(current)
                        break
                    continue
                kind = message["event"]
                if kind == "loaded":
                    loaded = True
                elif kind == "start":
                    current, started = message["exercise"], now
                elif kind == "result":
                    left.remove(message["result"]["exercise"])
                    current = None
                on_event(message)
                if kind == "done" or (kind == "loaded" and message.get("error")):
                    return  # a file that did not load: every exercise fails with its error
        except WorkerDied as died:
            on_event({"event": "died", "exercise": current, "how": died.how, "log": died.log,
                      "seconds": time.monotonic() - started, "output": _read_capture(request, current),
                      "while_loading": not loaded})
            if not loaded:  # loading the file ended the process: nothing can be checked
                return
            if current is not None:
                left.remove(current)
        except BaseException:  # Ctrl-C, or an error of fdl's own: never leave a worker mid-check
            stop_worker()
            raise


def _capture_path(request: dict, exercise: str | None) -> Path:
    return Path(request["capture_dir"]) / f"{exercise or '_load'}.out"


def _read_capture(request: dict, exercise: str | None) -> dict:
    return summarize_output(_capture_path(request, exercise))


def summarize_output(path: Path) -> dict:
    """What a learner's code printed: its start and end (``OUTPUT_LIMIT`` characters), lines and bytes."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            head = handle.read(OUTPUT_LIMIT // 2)
            if size > OUTPUT_LIMIT:
                handle.seek(max(size - OUTPUT_LIMIT // 2, OUTPUT_LIMIT // 2))
                tail = handle.read()
            else:
                tail = handle.read()
    except OSError:
        return {"text": "", "bytes": 0, "truncated": False}
    text = head.decode(errors="replace")
    if size > OUTPUT_LIMIT:
        text += f"\n... ({size - len(head) - len(tail):,} bytes not shown) ...\n" + tail.decode(errors="replace")
    else:
        text += tail.decode(errors="replace")
    return {"text": text, "bytes": size, "truncated": size > OUTPUT_LIMIT}


# --------------------------------------------------------------------------- the worker's side
@contextlib.contextmanager
def _captured(path: Path):
    """Point file descriptors 1 and 2 (Python's and C's output alike) at ``path`` for the duration."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    saved = os.dup(1), os.dup(2)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for handle in (fd, *saved):
            os.close(handle)


def _serve(sock: socket.socket) -> None:
    from .check import run_check
    from .curriculum import find_topic
    from .track import load_learner_file, track_module

    reader = sock.makefile("rb")
    cache_enabled = False

    def send(message: dict) -> None:
        sock.sendall((json.dumps(message) + "\n").encode())

    for line in reader:
        request = json.loads(line)
        if request.get("jax_cache") and not cache_enabled:
            from .jaxcache import enable_compilation_cache

            enable_compilation_cache()
            cache_enabled = True
        for entry in reversed(request.get("sys_path", [])):
            if entry not in sys.path:
                sys.path.insert(0, entry)
        topic = find_topic(request["topic"])
        checks = track_module(topic, "checks").CHECKS
        with _captured(_capture_path(request, None)):
            learner = load_learner_file(request["path"], topic)
        send({"event": "loaded", "error": learner.error, "sha256": learner.sha256,
              "output": summarize_output(_capture_path(request, None))})
        if learner.module is None:
            continue
        for name in request["only"]:
            send({"event": "start", "exercise": name})
            capture = _capture_path(request, name)
            with _captured(capture):
                result = run_check(checks[name], learner.module, exercise=name, seed=request["seed"],
                                   source=str(learner.path), time_limit=request["time_limit"])
            wire = result.to_wire()
            wire["output"] = summarize_output(capture)
            send({"event": "result", "result": wire})
        send({"event": "done"})


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for fdl, which then stops this process
    sock = socket.socket(fileno=int(argv[0]))
    try:
        _serve(sock)
    except (BrokenPipeError, ConnectionResetError):  # fdl went away
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Run many `cockpit` command lines fast: this process imports the cockpit once, then runs each
command line in a forked child, as `python -m cockpit` would run it (argv bytes decoded the way
Python decodes sys.argv, stdin from a file, stdout and stderr to files, its own working
directory), killing it when it outlives its timeout.

    python tests/cli_forks.py CASES.json RESULTS.json

CASES: [{"id", "argv": [hex bytes...], "cwd", "stdin": path or null, "timeout": seconds, "env": {},
"sleeps": true when the command mostly waits on the wall clock (a demo): those run beside the others}].
RESULTS: [{"id", "code" (None when it timed out), "out": stdout + stderr, decoded with backslashreplace}].
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cockpit.cli  # noqa: E402  (imported before forking: each child starts warm)
import cockpit.commands  # noqa: E402,F401
import cockpit.config  # noqa: E402,F401
import cockpit.engine  # noqa: E402,F401
import cockpit.evidence  # noqa: E402,F401
import cockpit.guard  # noqa: E402,F401
import cockpit.report  # noqa: E402,F401
import cockpit.session  # noqa: E402,F401
import cockpit.status  # noqa: E402,F401

PARALLEL = max(1, min(4, os.cpu_count() or 1))
SLEEPING = 4  # cases that mostly wait on the wall clock, run beside the PARALLEL ones


def child(case: dict, out_path: str) -> None:
    """In the fork: the case's stdin, stdout and stderr, working directory and environment, then
    `cockpit.cli.main` on its argv as Python would have decoded it. Never returns."""
    code = 70
    try:
        fd = os.open(case["stdin"] or os.devnull, os.O_RDONLY)
        os.dup2(fd, 0)
        out = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.chdir(case["cwd"])
        os.environ.update(case.get("env", {}))
        argv = [os.fsdecode(bytes.fromhex(a)) for a in case["argv"]]
        sys.argv = ["cockpit", *argv]
        try:
            code = cockpit.cli.main(argv)
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        except BaseException:  # what the interpreter would print: the test looks for it
            traceback.print_exc()
            code = 1
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        traceback.print_exc()
    finally:
        os._exit(code if isinstance(code, int) else 1)


def run_all(cases: list[dict]) -> list[dict]:
    results: dict[str, dict] = {}
    waiting = list(cases)
    running: dict[int, tuple[dict, str, float]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        while waiting or running:
            while case := _next(waiting, running):
                out_path = os.path.join(scratch, f"{len(results) + len(running)}-{os.getpid()}.out")
                pid = os.fork()
                if pid == 0:
                    child(case, out_path)
                running[pid] = (case, out_path, time.monotonic() + case["timeout"])
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                now = time.monotonic()
                for pid, (case, out_path, deadline) in list(running.items()):
                    if now > deadline:  # outlived its timeout: a hang
                        os.kill(pid, signal.SIGKILL)
                        os.waitpid(pid, 0)
                        del running[pid]
                        results[case["id"]] = {"id": case["id"], "code": None, "out": _read(out_path)}
                time.sleep(0.005)
                continue
            case, out_path, _ = running.pop(pid)
            code = os.waitstatus_to_exitcode(status)
            results[case["id"]] = {"id": case["id"], "code": code, "out": _read(out_path)}
    return [results[c["id"]] for c in cases]


def _next(waiting: list[dict], running: dict) -> dict | None:
    """The first case queued whose kind (sleeps or computes) has a free slot, taken off the queue."""
    for i, case in enumerate(waiting):
        sleeps = bool(case.get("sleeps"))
        if sum(bool(c.get("sleeps")) == sleeps for c, _, _ in running.values()) < (SLEEPING if sleeps else PARALLEL):
            return waiting.pop(i)
    return None


def _read(path: str) -> str:
    try:
        return Path(path).read_bytes().decode("utf-8", "backslashreplace")
    except OSError:
        return ""


if __name__ == "__main__":
    cases_path, results_path = sys.argv[1], sys.argv[2]
    Path(results_path).write_text(json.dumps(run_all(json.loads(Path(cases_path).read_text()))))

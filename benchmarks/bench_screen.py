"""Screen benchmark: exec to the first frame of `cockpit demo` next to a one-widget Textual app, and
exec to its panes filled; then CPU and RSS of the demo over N seconds of live 1 Hz updates (a rollout
in its soak).

Run: make bench   (or: .venv/bin/python benchmarks/bench_screen.py [--seconds 60] [--runs 5])
     .venv/bin/python benchmarks/bench_screen.py --minutes 60   (RSS once a minute over an hour of a live demo)
Each app runs on its own pseudo-terminal of 120x40, as over SSH; nothing is timed inside the app.
The first frame is the panes laid out (their boxes and titles: FRAME, the timeline's title) while
the plan and journal load; filled is the journal's plan shown in them (FILLED, the release in the
header, drawn only from the loaded plan).
Aims: first frame within 1.4x the one-widget app (ratio of medians, alternating runs); panes filled
no later than the whole start took before the frame came first (2.2x, issue 12); RSS under 64 MB
and flat over an hour.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import select
import signal
import statistics
import struct
import sys
import tempfile
import termios
import time

FRAME = b"Timeline (journal, newest first)"  # a pane's title: the panes are laid out
FILLED = b"IntelGraph Platform v0.1.0"  # the demo plan's release, in the header: the panes show the plan
FRAME_AIM, FILLED_AIM = 1.4, 2.2

ONE_WIDGET = """
from textual.app import App
from textual.widgets import Static
class One(App):
    def compose(self):
        yield Static("hello, one widget")
One().run()
"""


def spawn(argv: list[str], cols: int = 120, rows: int = 40) -> tuple[int, int]:
    pid, fd = pty.fork()
    if pid == 0:
        # COLUMNS/LINES would override the pty's size; PYTHONDONTWRITEBYTECODE (set on these machines)
        # would recompile every module on every start, which no installed cockpit does.
        env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "PYTHONDONTWRITEBYTECODE")}
        env["TERM"] = "xterm-256color"
        os.execvpe(argv[0], argv, env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    return pid, fd


def read_until(fd: int, *markers: bytes, timeout: float = 20.0) -> list[float]:
    """Seconds until each of `markers` has been written to the terminal (all of them)."""
    seen = b""
    at: dict[bytes, float] = {}
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        ready, _, _ = select.select([fd], [], [], 0.05)
        if ready:
            try:
                seen += os.read(fd, 65536)
            except OSError:
                break
            for marker in markers:
                if marker not in at and marker in seen:
                    at[marker] = time.perf_counter() - start
            if len(at) == len(markers):
                return [at[m] for m in markers]
    missing = [m for m in markers if m not in at]
    raise RuntimeError(f"{missing!r} never appeared; got {seen[-400:]!r}")


def drain(fd: int, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                os.read(fd, 65536)
            except OSError:
                return


def stop(pid: int, fd: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    os.waitpid(pid, 0)
    os.close(fd)


def cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def first_frame(argv: list[str], *markers: bytes) -> list[float]:
    pid, fd = spawn(argv)
    try:
        return read_until(fd, *markers)
    finally:
        stop(pid, fd)


def live_demo(py: str, state_dir: str, scenario: str | None = None) -> tuple[int, int]:
    """A demo at speed 15 (the monitor polls once a wall second), started and soaking in phase 1."""
    argv = [py, "-m", "cockpit", "demo", "--speed", "15", "--state-dir", state_dir]
    if scenario:
        argv += ["--scenario", scenario]
    pid, fd = spawn(argv)
    read_until(fd, FILLED)
    drain(fd, 3.0)  # the simulated stakeholders sign off
    os.write(fd, b"s")  # start: phase 1 soaks for 80 wall seconds at this speed
    drain(fd, 1.0)
    os.write(fd, b"y")  # confirm (focus starts on Cancel: this only matters if a dialog asked)
    drain(fd, 2.0)
    return pid, fd


def memory_curve(py: str, tmp: str, minutes: int) -> None:
    """RSS once a minute over `minutes` of a live demo (healthy world: it keeps soaking and polling)."""
    pid, fd = live_demo(py, f"{tmp}/hour", "healthy")
    try:
        cpu0, t0 = cpu_seconds(pid), time.monotonic()
        curve = [rss_mb(pid)]
        print(f"memory        minute  0   RSS {curve[0]:.1f} MB", flush=True)
        for minute in range(1, minutes + 1):
            drain(fd, t0 + 60 * minute - time.monotonic())
            curve.append(rss_mb(pid))
            print(f"memory        minute {minute:2d}   RSS {curve[-1]:.1f} MB", flush=True)
        pct = 100 * (cpu_seconds(pid) - cpu0) / (time.monotonic() - t0)
        half = len(curve) // 2
        print(
            f"memory        {minutes} min live demo: RSS start {curve[0]:.1f} MB, end {curve[-1]:.1f} MB, "
            f"max {max(curve):.1f} MB; second half {min(curve[half:]):.1f}-{max(curve[half:]):.1f} MB; "
            f"CPU {pct:.1f} % of one core   (aim: under 64 MB and flat)"
        )
    finally:
        stop(pid, fd)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60.0, help="live-update window for CPU and RSS")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--minutes", type=int, help="only record RSS once a minute over this many minutes of a live demo")
    args = ap.parse_args()
    py = sys.executable
    if args.minutes:
        with tempfile.TemporaryDirectory() as tmp:
            memory_curve(py, tmp, args.minutes)
        return

    with tempfile.TemporaryDirectory() as tmp:
        one, frame, filled = [], [], []
        first_frame([py, "-m", "cockpit", "demo", "--state-dir", f"{tmp}/warm"], FRAME, FILLED)  # bytecode cache
        for i in range(args.runs):  # interleaved, so both see the same machine
            one.extend(first_frame([py, "-c", ONE_WIDGET], b"hello, one widget"))
            at_frame, at_filled = first_frame([py, "-m", "cockpit", "demo", "--state-dir", f"{tmp}/ff{i}"], FRAME, FILLED)
            frame.append(at_frame)
            filled.append(at_filled)
        m_one = statistics.median(one)

        def runs(xs: list[float]) -> str:
            return ", ".join(f"{x * 1e3:.0f}" for x in xs)

        print(f"first frame   one-widget app  median {m_one * 1e3:6.0f} ms   (runs: {runs(one)})")
        print(f"first frame   cockpit demo    median {statistics.median(frame) * 1e3:6.0f} ms   (runs: {runs(frame)})")
        print(f"panes filled  cockpit demo    median {statistics.median(filled) * 1e3:6.0f} ms   (runs: {runs(filled)})")
        for what, xs, aim in (("first frame", frame, FRAME_AIM), ("panes filled", filled, FILLED_AIM)):
            ratio = statistics.median(xs) / m_one
            print(f"ratio         {what:<12} {ratio:.2f}x the one-widget app   "
                  f"(aim: within {aim}x: {'met' if ratio <= aim else 'NOT met'})")

        # Live: speed 15 makes the monitor poll once a wall second (its 15 s poll interval).
        pid, fd = live_demo(py, f"{tmp}/live")
        try:
            rss0, cpu0, t0 = rss_mb(pid), cpu_seconds(pid), time.monotonic()
            samples = []
            while time.monotonic() - t0 < args.seconds:
                drain(fd, min(10.0, args.seconds - (time.monotonic() - t0)))
                samples.append(rss_mb(pid))
            cpu1, t1 = cpu_seconds(pid), time.monotonic()
            pct = 100 * (cpu1 - cpu0) / (t1 - t0)
            print(
                f"live 1 Hz     {t1 - t0:.0f} s   CPU {pct:.1f} % of one core   "
                f"RSS {rss0:.1f} MB -> {samples[-1]:.1f} MB (max {max(samples):.1f} MB)   "
                f"(aims: CPU under 2.5 %: {'met' if pct < 2.5 else 'NOT met'}; "
                f"RSS under 64 MB: {'met' if max(samples) < 64 else 'NOT met'})"
            )
        finally:
            stop(pid, fd)


if __name__ == "__main__":
    main()

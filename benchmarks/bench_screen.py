"""Screen benchmark: exec to the first frame of `cockpit demo` next to a one-widget Textual app, to
its panes filled with the plan's content, and to the plan loaded; then CPU and RSS of the demo over
N seconds of live 1 Hz updates (a rollout in its soak).

Run: make bench   (or: .venv/bin/python benchmarks/bench_screen.py [--seconds 60] [--runs 5] [--pythonpath DIR])
     .venv/bin/python benchmarks/bench_screen.py --minutes 60   (RSS once a minute over an hour of a live demo)
Each app runs on its own pseudo-terminal of 120x40, as over SSH; nothing is timed inside the app.
The first frame is the panes laid out (FRAME, the timeline's title); filled is the plan's content in
them (FILLED: a preflight row and a trigger row), which a screen started before shows from the
frame it kept (cockpit/tui/kept.py) while it loads; a first start ever (an empty cache) fills them
once the plan is loaded; loaded is the screen's own, its actions offered (LOADED, in the footer).
--pythonpath DIR: DIR, another checkout's root, is measured the same way, alternating with this one
(a checkout without kept frames fills its panes once loaded).
Aims: first frame and panes filled within 1.4x the one-widget app (ratio of medians, alternating
runs: issue 22's full frame); RSS under 64 MB and flat over an hour.
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

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # this checkout
FRAME = b"Timeline (journal, newest first)"  # a pane's title: the panes are laid out
FILLED = (b"Freeze Window", b"Path Queries")  # a preflight row and a trigger row of the demo's plan
LOADED = b"Checks"  # the footer's `r Checks`: offered only once the plan is loaded and validated
FRAME_AIM = FILLED_AIM = 1.4

ONE_WIDGET = """
from textual.app import App
from textual.widgets import Static
class One(App):
    def compose(self):
        yield Static("hello, one widget")
One().run()
"""


def spawn(argv: list[str], cols: int = 120, rows: int = 40, env: dict[str, str] | None = None,
          cwd: str | None = None) -> tuple[int, int]:
    """`argv` on a new pty of cols x rows; `env`: variables set for it on top of this process's;
    `cwd`: where it runs (`python -m` imports from there first: not from a checkout by chance)."""
    pid, fd = pty.fork()
    if pid == 0:
        if cwd:
            os.chdir(cwd)
        # COLUMNS/LINES would override the pty's size; PYTHONDONTWRITEBYTECODE (set on these machines)
        # would recompile every module on every start, which no installed cockpit does.
        child = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "PYTHONDONTWRITEBYTECODE")}
        child["TERM"] = "xterm-256color"
        child.update(env or {})
        os.execvpe(argv[0], argv, child)
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


def first_frame(argv: list[str], *markers: bytes, env: dict[str, str] | None = None,
                cwd: str | None = None) -> list[float]:
    pid, fd = spawn(argv, env=env, cwd=cwd)
    try:
        return read_until(fd, *markers)
    finally:
        stop(pid, fd)


def starts(py: str, tmp: str, runs: int, checkouts: list[tuple[str, dict[str, str]]]) -> None:
    """Alternating runs: the one-widget app, then each checkout's `cockpit demo` with the frame it
    kept at its previous start, and a first start ever (an empty cache). Prints the medians and
    the ratios with their aims."""
    one: list[float] = []
    times: dict[str, dict[str, list[float]]] = {}
    for label, env in checkouts:  # bytecode compiled, a frame kept (an earlier start of the same screen)
        pid, fd = spawn([py, "-m", "cockpit", "demo", "--state-dir", f"{tmp}/{label}-warm"],
                        env={**env, "XDG_CACHE_HOME": f"{tmp}/{label}-cache"}, cwd=tmp)
        try:
            read_until(fd, LOADED)
            drain(fd, 1.0)  # the screen keeps its frame once it has drawn it
        finally:
            stop(pid, fd)
        times[label] = {"frame": [], "filled": [], "loaded": [], "cold": []}
    for i in range(runs):  # interleaved, so all of them see the same machine
        one.extend(first_frame([py, "-c", ONE_WIDGET], b"hello, one widget", cwd=tmp))
        for label, env in checkouts:
            demo = [py, "-m", "cockpit", "demo", "--state-dir", f"{tmp}/{label}-{i}"]
            at = first_frame(demo, FRAME, *FILLED, LOADED, env={**env, "XDG_CACHE_HOME": f"{tmp}/{label}-cache"},
                             cwd=tmp)
            times[label]["frame"].append(at[0])
            times[label]["filled"].append(max(at[1:-1]))
            times[label]["loaded"].append(at[-1])
            cold = first_frame([*demo[:-1], f"{tmp}/{label}-cold{i}"], *FILLED, cwd=tmp,
                               env={**env, "XDG_CACHE_HOME": f"{tmp}/{label}-cold{i}-cache"})
            times[label]["cold"].append(max(cold))
    m_one = statistics.median(one)

    def runs_(xs: list[float]) -> str:
        return ", ".join(f"{x * 1e3:.0f}" for x in xs)

    print(f"first frame   one-widget app   median {m_one * 1e3:6.0f} ms   (runs: {runs_(one)})")
    for label, t in times.items():
        for what, key, aim in (("first frame", "frame", FRAME_AIM), ("panes filled", "filled", FILLED_AIM),
                               ("first start", "cold", None), ("plan loaded", "loaded", None)):
            median = statistics.median(t[key])
            said = (f"aim: within {aim}x: {'met' if median / m_one <= aim else 'NOT met'}" if aim else
                    "no aim: " + ("an empty cache, the panes filled once the plan is loaded" if key == "cold" else
                                  "the engine built, the footer offers its actions"))
            print(f"{what:<13} {label:<16} median {median * 1e3:6.0f} ms = {median / m_one:.2f}x the one-widget app"
                  f"   ({said}; runs: {runs_(t[key])})")


def live_demo(py: str, state_dir: str, scenario: str | None = None) -> tuple[int, int]:
    """A demo at speed 15 (the monitor polls once a wall second), started and soaking in phase 1."""
    argv = [py, "-m", "cockpit", "demo", "--speed", "15", "--state-dir", state_dir]
    if scenario:
        argv += ["--scenario", scenario]
    pid, fd = spawn(argv)
    read_until(fd, LOADED)
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
    ap.add_argument("--pythonpath", help="another checkout's root: its demo is measured too, alternating with this one")
    args = ap.parse_args()
    py = sys.executable
    if args.minutes:
        with tempfile.TemporaryDirectory() as tmp:
            memory_curve(py, tmp, args.minutes)
        return

    with tempfile.TemporaryDirectory() as tmp:
        checkouts = [("this code", {"PYTHONPATH": ROOT})]
        if args.pythonpath:
            checkouts.append(("--pythonpath", {"PYTHONPATH": os.path.abspath(args.pythonpath)}))
        starts(py, tmp, args.runs, checkouts)

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

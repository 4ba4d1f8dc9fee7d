"""Property (issue 20): whatever happens to a live rollout's journal (bad bytes in any line,
another writer's garbage lines anywhere, lines cut off its end, journal.head deleted, its last
line cut short, lines swapped, in any order), the kill still reaches the gateway and its events
are journaled or kept aside; and `cockpit verify` (the function, and the CLI with exit 1) names
every one of them by line."""

from __future__ import annotations

import asyncio
import io
import shutil
import tempfile
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cockpit import cli
from cockpit.clock import ManualClock
from cockpit.core.events import Actor
from cockpit.engine import Engine
from cockpit.seed import seed_plan
from cockpit.store.chain import JournalError, Scan
from cockpit.store.head import HEAD
from cockpit.store.journal import Journal
from cockpit.store.kept import read_kept
from cockpit.store.verify import JOURNAL, verify
from tests.conftest import T0
from tests.support import MemoryGateway, passing_runner

CAPTAIN = Actor(user="alice", host="bastion", role="captain")
CLI = Actor(user="bob", host="bastion", role="cli")
NOTES = 24
BAD = [0xFF, 0xFE, 0xC0, 0x80, 0xED]  # never UTF-8 where they land (0xC0 and 0xED: no valid sequence follows)


@cache
def live_journal() -> Path:
    """A live rollout at 5 %, with notes: about 40 lines (built once, copied for each example)."""
    from tests.integration.rollout import go_live

    where = Path(tempfile.mkdtemp(prefix="live-journal-"))
    engine = Engine(seed_plan(), Journal(where), clock=ManualClock(T0), actor=CAPTAIN, gateway=MemoryGateway(),
                    check_runner=passing_runner())
    engine.ensure_plan()
    asyncio.run(go_live(engine))
    for i in range(NOTES):
        assert engine.note(f"note {i}").ok
    engine.journal.close()
    return where


@dataclass(eq=False)
class Line:
    raw: bytes  # without its line end
    seq: int | None  # the event's seq, for a line the journal wrote
    damaged: bool = False  # a bad byte in it, or a line no cockpit wrote


@dataclass
class Damage:
    """The journal as the corruptions leave it, and what `verify` must name."""

    lines: list[Line]
    head: bool = True
    torn: bool = False  # the last line has lost its end (always the last corruption)
    swaps: list[tuple[Line, Line]] = field(default_factory=list)
    cut_events: bool = False  # lines the journal wrote were cut off its end

    def apply(self, corruption: tuple) -> None:
        kind, *args = corruption
        lines = self.lines
        if kind == "bad_byte":
            at, where, byte = args
            line = lines[at % len(lines)]
            k = where % (len(line.raw) + 1)
            line.raw = line.raw[:k] + bytes([byte]) + line.raw[k + 1:]
            line.damaged = True
        elif kind == "garbage":
            at, text = args  # at None: at the end
            lines.insert(len(lines) if at is None else at % (len(lines) + 1), Line(text, None, damaged=True))
        elif kind == "cut":
            (n,) = args
            cut, self.lines = lines[-n:], lines[:-n]
            self.cut_events |= any(line.seq is not None for line in cut)
        elif kind == "head":
            self.head = False
        elif kind == "swap":
            (at,) = args
            i = at % (len(lines) - 1)
            a, b = lines[i], lines[i + 1]
            lines[i], lines[i + 1] = b, a
            if a.seq is not None and b.seq is not None and not (a.damaged or b.damaged):
                self.swaps.append((a, b))
        elif kind == "torn":
            (k,) = args
            last = lines[-1]
            if last.raw:
                last.raw = (last.raw + b"\n")[: len(last.raw) + 1 - (1 + k % len(last.raw))]
                last.damaged = self.torn = True

    def write(self, state_dir: Path) -> None:
        data = b"".join(line.raw + b"\n" for line in self.lines)
        (state_dir / JOURNAL).write_bytes(data[:-1] if self.torn else data)
        if not self.head:
            (state_dir / HEAD).unlink()

    def must_name(self) -> list[tuple[str, object]]:
        """(what, the line numbers any of which verify must name, or "head") for each corruption
        that is still there."""
        at = {id(line): n for n, line in enumerate(self.lines, start=1)}
        named: list[tuple[str, object]] = []
        for n, line in enumerate(self.lines, start=1):
            if line.damaged:
                named.append((f"damaged line {n}", {n}))
        for a, b in self.swaps:
            if id(a) in at and id(b) in at and (at[id(a)] > at[id(b)]) == (a.seq < b.seq) and not (a.damaged or b.damaged):
                named.append((f"lines {at[id(b)]} and {at[id(a)]} out of order", {at[id(a)], at[id(b)]}))
        if not self.head:
            named.append(("head deleted", "head missing"))
        elif self.cut_events:
            named.append(("events cut off the end", "head or end"))
        return named


    def only_junk_at_the_end(self) -> bool:
        """Whether all the damage is lines no cockpit wrote, after the journal's last event (and
        nothing cut, moved, or missing): the next append moves them aside, and takes the kill."""
        last = max((n for n, line in enumerate(self.lines) if line.seq is not None), default=-1)
        junk = self.lines[last + 1:]
        return bool(junk) and self.head and not self.cut_events and not self.must_swaps() and all(
            line.seq is None for line in junk) and not any(line.damaged for line in self.lines[:last + 1])

    def must_swaps(self) -> bool:
        return any(name.startswith("lines ") for name, _ in self.must_name())


def names(scan: Scan, what, lines: int) -> bool:
    """Whether verify's findings name a corruption: one of its lines (a problem there, or one that
    says where a moved line stands), the head, or (a cut) the head or the journal's last lines."""
    problems = scan.problems + ([scan.head] if scan.head else [])
    if what == "head missing":
        return scan.head is not None and scan.head.reason == "head missing"
    if what == "head or end":
        return scan.head is not None or any(p.line >= lines - 2 for p in scan.problems)
    return any(p.line <= n < p.line + p.lines or f"line {n}" in p.detail for p in problems for n in what)


corruption = st.one_of(
    st.tuples(st.just("bad_byte"), st.integers(0, 10**6), st.integers(0, 10**6), st.sampled_from(BAD)),
    st.tuples(st.just("garbage"), st.one_of(st.none(), st.integers(0, 10**6)), st.binary(max_size=80).map(lambda b: b.replace(b"\n", b" "))),
    st.tuples(st.just("cut"), st.integers(1, 3)),
    st.tuples(st.just("head")),
    st.tuples(st.just("swap"), st.integers(0, 10**6)),
)
corruptions = st.tuples(
    st.lists(corruption, min_size=1, max_size=4),
    st.one_of(st.none(), st.tuples(st.just("torn"), st.integers(0, 10**6))),
).map(lambda t: t[0] + ([t[1]] if t[1] else []))


def pull_the_kill(state_dir: Path):
    """What `cockpit kill` does: read the journal; on a journal that reads, the writable open (and
    its repairs); on one that does not verify, the salvage open. Then the engine's kill."""
    try:
        Journal(state_dir, readonly=True)
        journal = Journal(state_dir)  # refusing here would refuse the kill: it must not
    except JournalError:
        journal = Journal(state_dir, salvage=True)
    gateway = MemoryGateway()
    gateway.weight = 5
    engine = Engine(seed_plan(), journal, clock=ManualClock(T0 + timedelta(hours=1)), actor=CLI, gateway=gateway)
    status = engine.state.status
    out = asyncio.run(engine.kill("p95 regression"))
    journal.close()
    return journal, gateway, out, status


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(corruptions)
@example([("bad_byte", 19, 150, 0xFF)])  # issue 20, item 1: `r\xffot` in line 20
@example([("garbage", None, b"hello from another writer")])  # a complete garbage line at the end
@example([("head",), ("cut", 3)])  # item 8: the head deleted and the tail cut
@example([("swap", 30), ("swap", 31)])  # a line moved two places
@example([("garbage", 5, b""), ("swap", 5)])
@example([("bad_byte", 0, 40, 0xFF)])  # the plan's own line
def test_no_corruption_stops_the_kill_and_verify_names_each(steps):
    lines = [Line(raw, seq) for seq, raw in enumerate((live_journal() / JOURNAL).read_bytes().splitlines(), start=1)]
    damage = Damage(list(lines))
    start = next(line for line in lines if b'"kind":"rollout_started"' in line.raw)
    for step in steps:
        damage.apply(step)
    with tempfile.TemporaryDirectory() as tmp:
        state_dir = Path(tmp) / "state"
        shutil.copytree(live_journal(), state_dir)
        damage.write(state_dir)

        scan = verify(state_dir)
        must = damage.must_name()
        for what, where in must:
            assert names(scan, where, len(damage.lines)), (what, [str(p) for p in scan.problems], str(scan.head))
        found = scan.problems + ([scan.head] if scan.head else [])
        assert len(found) <= 2 * len(steps), [str(p) for p in found]  # one bad line is not a cascade
        said = io.StringIO()
        with redirect_stderr(said), redirect_stdout(io.StringIO()):
            code = cli.main(["verify", "--state-dir", str(state_dir)])
        assert code == (1 if must else code) and (code in (0, 1)), said.getvalue()
        if must:
            told = said.getvalue().splitlines()
            assert all(line.startswith(f"{state_dir / JOURNAL}: ") for line in told), told
            for problem in scan.problems + ([scan.head] if scan.head else []):
                assert f"{state_dir / JOURNAL}: {problem}" in told  # one line each, naming file and line

        journal, gateway, out, status = pull_the_kill(state_dir)
        if start in damage.lines and not start.damaged:  # a bad line elsewhere does not hide the start
            assert status == "live", status
        assert "set_enabled False" in gateway.calls and gateway.enabled is False and gateway.weight == 0
        assert out.ok, out.reasons
        journaled = [r.kind for r in out.records]
        kept = [p.KIND for p in out.unjournaled]
        assert {"kill_requested", "kill_result"} <= set(journaled) | set(kept), (journaled, kept, out.reasons)
        if damage.only_junk_at_the_end():
            assert journal.broken is None and journal.quarantined, journal.broken  # moved aside: appends work
        if journal.broken is None:
            assert not kept, out.reasons  # a journal that opens for writing takes the kill
        else:
            aside = [k.payload.KIND for k in read_kept(state_dir)[0]]
            assert aside[-len(kept):] == kept  # what was not journaled is kept, in the side file

"""Crash test: a writer SIGKILLed at random moments never loses an acknowledged event."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time

from cockpit.store.journal import Journal
from cockpit.store.verify import verify

_WRITER = r"""
import sys
from datetime import datetime, timezone
from cockpit.store.journal import Journal
from cockpit.core import events as ev
j = Journal(sys.argv[1])
actor = ev.Actor(user="crash", host="h")
print("open", len(j.records), flush=True)
while True:
    _, r = j.append(ev.Noted(text="x" * 200), actor=actor, ts=datetime.now(timezone.utc))
    print(r.seq, flush=True)   # acknowledged: the append returned, so it was fsync'd
"""


def test_sigkill_at_random_moments_loses_no_acknowledged_event(state_dir):
    rng = random.Random(20261126)
    acked: set[int] = set()
    for _ in range(12):
        p = subprocess.Popen([sys.executable, "-c", _WRITER, str(state_dir)], stdout=subprocess.PIPE, text=True)
        assert p.stdout.readline().startswith("open")
        time.sleep(rng.uniform(0.01, 0.15))
        p.send_signal(signal.SIGKILL)
        out, _ = p.communicate(timeout=30)
        acked.update(int(x) for x in out.split() if x.isdigit())
        j = Journal(state_dir)  # quarantines a torn tail if the kill tore one
        j.close()
        scan = verify(state_dir)
        assert scan.problem is None, scan.problem
        seqs = {r.seq for r in scan.records}
        assert acked <= seqs, sorted(acked - seqs)[:5]
    assert len(acked) > 12  # the writer made progress between kills

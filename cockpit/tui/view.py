"""What every pane renders from: one snapshot of plan, folded state, the guard's evaluation and clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cockpit.config import Plan
from cockpit.core.evaluation import Evaluation
from cockpit.core.state import RolloutState

# Plain symbols that survive bastion fonts (emoji come out as empty boxes there).
PASS, FAIL, WAIT, RUN, WAIVED, WARN, DOT = "✓", "✗", "·", "⟳", "~", "▲", "●"


@dataclass
class Palette:
    """The theme's semantic colours (theme files' [roles])."""

    ok: str = "green"
    breach: str = "red"
    stale: str = "yellow"
    kill: str = "magenta"
    muted: str = "grey50"

    @classmethod
    def from_variables(cls, variables: dict[str, str]) -> "Palette":
        get = variables.get
        return cls(
            ok=get("cockpit-pass", cls.ok),
            breach=get("cockpit-breach", cls.breach),
            stale=get("cockpit-stale", cls.stale),
            kill=get("cockpit-kill", cls.kill),
            muted=get("cockpit-muted", cls.muted),
        )


@dataclass
class View:
    plan: Plan
    state: RolloutState
    live: Evaluation | None  # the guard's latest round; None when no guard has published one
    now: datetime
    running: frozenset[str]  # preflight checks running now
    observer: bool
    who: str  # user@host of this terminal
    colors: Palette
    busy: str = ""  # a command in flight ("KILL SENT", "shifting to 25 %")

    def criterion(self, criterion_id: str) -> tuple[bool | None, str]:
        """(met, why) for a criterion of the current gate: the guard's live verdict when it has
        one, else what the journal says, else not evaluated yet (None)."""
        soak = self.live.criteria_for(self.state.phase, self.state.phase_started_at) if self.live else {}
        live = soak.get(criterion_id)
        gate = self.state.gates.get(self.state.phase) if self.state.phase is not None else None
        journaled = gate.criteria.get(criterion_id) if gate else None
        if live is not None and live.passed is not None:
            return live.passed, live.detail
        if journaled is not None:
            return journaled.passed, journaled.detail
        return None, live.detail if live else "not evaluated yet"


def hhmm(ts: datetime | None) -> str:
    return "--:--" if ts is None else ts.strftime("%H:%M:%S")


def duration(seconds: float) -> str:
    s = max(0, int(round(seconds)))
    if s >= 3600:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    return f"{s // 60}m{s % 60:02d}s"


def money(v: float | None, currency: str = "USD") -> str:
    if v is None:
        return "?"
    sign = "$" if currency == "USD" else ""
    return f"{sign}{v:,.0f}" + ("" if sign else f" {currency}")


def bar(fraction: float, width: int) -> str:
    fraction = min(1.0, max(0.0, fraction))
    full = int(round(fraction * width))
    return "█" * full + "░" * (width - full)


SPARKS = "▁▂▃▄▅▆▇█"


def sparkline(values, width: int = 12) -> str:
    vals = [v for v in values if v == v][-width:]
    if not vals:
        return ""
    lo, hi = min(vals), max(vals)
    span = hi - lo or 1.0
    return "".join(SPARKS[min(7, int((v - lo) / span * 7.999))] for v in vals)

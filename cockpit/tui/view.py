"""What every pane renders from: the desk's `Shown` (the core's read model and what it was built
from), plus what only this terminal knows (mode, who, busy, theme colours)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text

if TYPE_CHECKING:
    from cockpit.desk import Shown


@dataclass(frozen=True)
class Palette:
    """The theme's semantic colours (theme files' [roles])."""

    ok: str = "green"
    breach: str = "red"
    stale: str = "yellow"
    kill: str = "magenta"
    muted: str = "grey50"

    @classmethod
    def from_variables(cls, variables: dict[str, str]) -> Palette:
        get = variables.get
        return cls(
            ok=get("cockpit-pass", cls.ok),
            breach=get("cockpit-breach", cls.breach),
            stale=get("cockpit-stale", cls.stale),
            kill=get("cockpit-kill", cls.kill),
            muted=get("cockpit-muted", cls.muted),
        )

    def style(self, role: str) -> str:
        """A read-model role as a Rich style in this theme. Loud roles are reverse video, never blinking."""
        return {
            "ok": self.ok,
            "warn": f"bold {self.stale}",
            "breach": f"bold {self.breach}",
            "alarm": f"bold reverse {self.breach}",
            "stale": self.stale,
            "kill": f"bold reverse {self.kill}",
            "muted": self.muted,
            "bold": "bold",
        }.get(role, "")


@dataclass
class View:
    shown: Shown  # the read model, and the plan, state, guard's round and clock it was built from
    observer: bool
    who: str  # user@host of this terminal
    colors: Palette
    busy: str = ""  # a command in flight ("KILL SENT", "shifting to 25 %")
    banner: str = ""  # "DEMO · simulated · 60x": what this screen is not

    def __post_init__(self):
        s = self.shown
        self.plan, self.state, self.live, self.now = s.plan, s.state, s.live, s.now
        self.running, self.model = s.running, s.model

    def style(self, role: str) -> str:
        return self.colors.style(role)


def bar(fraction: float, width: int) -> str:
    fraction = min(1.0, max(0.0, fraction))
    full = int(round(fraction * width))
    return "█" * full + "░" * (width - full)


SPARKS = "▁▂▃▄▅▆▇█"


def sparkline(values, width: int = 12, threshold: float | None = None, over: str = "", under: str = "") -> Text:
    """The last `width` values on a fixed scale around the threshold: 0 to twice the threshold
    (the threshold sits mid-height), so 242–249 ms reads flat and a breach stands out in `over`."""
    vals = [v for v in values if v is not None and v == v][-width:]
    if not vals:
        return Text("")
    if threshold is not None and threshold > 0:
        lo, hi = 0.0, 2.0 * threshold
    else:
        lo, hi = min(0.0, min(vals)), max(max(vals), 1.0 if threshold is not None else max(vals))
    span = (hi - lo) or 1.0
    text = Text()
    for v in vals:
        level = SPARKS[min(7, max(0, int((min(v, hi) - lo) / span * 7.999)))]
        breached = threshold is not None and v > threshold
        text.append(level, over if breached else under)
    return text

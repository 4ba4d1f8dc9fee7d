"""What a command did: done or refused with the reasons, the records it journaled, what it kept aside."""

from __future__ import annotations

from dataclasses import dataclass, field

from cockpit.core import events as ev


@dataclass
class Outcome:
    ok: bool
    reasons: list[str] = field(default_factory=list)
    records: list[ev.Record] = field(default_factory=list)
    unjournaled: list[ev.Payload] = field(default_factory=list)  # done, but kept aside, not journaled

    @classmethod
    def refused(cls, reasons: list[str]) -> Outcome:
        return cls(False, reasons)

"""The journal a kill or a guard acts on when the state dir cannot be written (a read-only mount,
a full disk at open, files this user may read but not write): it reads what can be read, refuses
every write with the reason, and becomes the writable journal once the state dir takes writes.

The kill path needs no writable state dir (DESIGN.md principle 7): the engine acts on this as on a
writable journal and keeps what it cannot write (engine.Held), said on stderr and journaled late.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from cockpit.core.events import Actor, Payload, Record
from cockpit.store.chain import JournalError
from cockpit.store.journal import Journal
from cockpit.store.verify import JOURNAL


def acting_journal(state_dir: Path, *, salvage: bool = False) -> Journal | UnwritableJournal:
    """The writable journal when it opens; else an UnwritableJournal on what can be read."""
    try:
        return Journal(state_dir, salvage=salvage)
    except JournalError as e:
        return UnwritableJournal(state_dir, str(e))


class UnwritableJournal:
    """Duck-types the Journal an engine uses. `broken` is set when not even reading worked: the
    kill then acts on no events (a needless kill costs nothing; kill_refusals waives "not started")."""

    readonly = False  # an engine acts on it (it is no observer's): its events are kept, not refused
    remote = False
    unanswered: str | None = None

    def __init__(self, state_dir: Path, why: str):
        self.state_dir = Path(state_dir)
        self.path = self.state_dir / JOURNAL
        self.why = why
        self.write_error: str | None = why
        self.quarantined: str | None = None
        self.head_error: str | None = None
        self.broken: str | None = None
        self._writable: Journal | None = None
        self._reader: Journal | None = None
        try:
            self._reader = Journal(self.state_dir, readonly=True, salvage=True)
            self.broken = getattr(self._reader, "broken", None)
        except JournalError as e:
            self.broken = str(e) if str(e) in why else f"{e} (and it cannot be written: {why})"

    @property
    def torn(self):
        current = self._current()
        return current.torn if current is not None else None

    @property
    def records(self) -> list[Record]:
        current = self._current()
        return current.records if current is not None else []

    def _current(self) -> Journal | None:
        return self._writable or self._reader

    def poll(self) -> list[Record]:
        current = self._current()
        return current.poll() if current is not None else []

    def append(self, payload: Payload, *, actor: Actor, ts: datetime) -> tuple[list[Record], Record]:
        return self._journal().append(payload, actor=actor, ts=ts)

    def journal_kept(self) -> list[Record]:
        return self._journal().journal_kept()

    def keep_aside(self, payload: Payload, *, actor: Actor, ts: datetime, error: str, pseq: int = 0) -> Path:
        return self._journal().keep_aside(payload, actor=actor, ts=ts, error=error, pseq=pseq)

    def _journal(self) -> Journal:
        """The writable journal, opened (and kept) as soon as the state dir takes writes again."""
        if self._writable is None:
            try:
                self._writable = Journal(self.state_dir)
            except JournalError as e:
                self.write_error = str(e)
                raise JournalError(f"the state dir cannot be written: {e}") from None
            self.write_error = self.broken = None
            self.quarantined = self._writable.quarantined
            if self._reader is not None:
                self._reader.close()
        return self._writable

    def close(self) -> None:
        for j in (self._writable, self._reader):
            if j is not None:
                j.close()

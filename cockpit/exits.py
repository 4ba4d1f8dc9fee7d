"""The `cockpit` command's exit codes: one table for every subcommand, the same in text and `--json`.

Each subcommand's `--help` lists the codes it exits with, in its own words (`said`), and every one
of them is a row here; the README's table is this one (`markdown`, `python -m cockpit.exits`).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from enum import IntEnum


class Exit(IntEnum):
    OK = 0
    FAIL = 1
    REFUSED = 2
    LOCKED = 3
    UNJOURNALED = 4
    CRASHED = 5
    FAIL_UNJOURNALED = 6
    UNRECORDED = 7
    FAIL_UNRECORDED = 8
    DEPOSED = 9
    INTERRUPTED = 130


@dataclass(frozen=True)
class Code:
    outcome: str  # the `--json` document's "outcome", unless the command says it in its own word
    brief: str  # `cockpit --help`
    meaning: str  # the README


TABLE: dict[Exit, Code] = {
    Exit.OK: Code(
        "done", "done, VERIFIED at the gateway, or intact",
        "done: what the command did is journaled (and VERIFIED at the gateway where it moved traffic); what it "
        "checked or read is intact"),
    Exit.FAIL: Code(
        "not confirmed", "tried but not confirmed, or what it read does not verify",
        "tried, but not confirmed, or found wrong: the gateway does not confirm a shift or the kill, the canary "
        "traffic does not fall, a preflight check failed, an evidence bundle is incomplete; for what reads a journal "
        "(`status`, `verify`, `report`, `replay`), the journal does not verify (`verify --evidence`: the bundle does "
        "not match its manifest)"),
    Exit.REFUSED: Code(
        "refused", "refused or misused (a usage error): nothing done",
        "refused, misconfigured or misused: nothing journaled, nothing sent to the gateway (the reasons on stderr, "
        "one `refused:` line each, as the screen says them; a plan's errors name each field); also every usage error"),
    Exit.LOCKED: Code(
        "refused: captain lock held", "another holds the lock (the captain lock; guard --no-wait): nothing done",
        "another process holds the lock: a captain holds the captain lock (a screen runs; every captain command and "
        "`run`, naming the holder), or `guard --no-wait` finds another guard; nothing done"),
    Exit.UNJOURNALED: Code(
        "done, not journaled", "VERIFIED at the gateway, not journaled (kept in unjournaled.jsonl)",
        "VERIFIED at the gateway, but the journal did not take what followed the gateway call (a full disk, an I/O "
        "error): it waits in the state dir's `unjournaled.jsonl` and the next command that journals writes it, late "
        "and in order"),
    Exit.CRASHED: Code(
        "crashed", "crashed: a bug (after kill: read the gateway back)",
        "crashed: an unexpected error (a bug), said in one line and its traceback; after `kill`, the kill may or may "
        "not have reached the gateway: read it back (`cockpit reconcile`)"),
    Exit.FAIL_UNJOURNALED: Code(
        "not confirmed, not journaled", "not confirmed at the gateway, not journaled (kept)",
        "not confirmed at the gateway, and not journaled either (kept in `unjournaled.jsonl`, as for 4)"),
    Exit.UNRECORDED: Code(
        "done, not recorded", "VERIFIED at the gateway, nothing recorded (printed on stderr)",
        "VERIFIED at the gateway, but NOTHING could record it: neither the journal nor `unjournaled.jsonl` took the "
        "events (a read-only or full state dir, one this user may not write); they are printed on stderr as "
        "`unjournaled.jsonl` lines to append there once it takes writes; `guard`: stopped with such events"),
    Exit.FAIL_UNRECORDED: Code(
        "not confirmed, not recorded", "not confirmed at the gateway, nothing recorded",
        "as 7, but not confirmed at the gateway"),
    Exit.DEPOSED: Code(
        "deposed", "a guard deposed: another guard holds the lease now (etcd)",
        "`guard` on etcd: this guard lost the guard lease (paused or cut off past its TTL) and another guard holds it "
        "now; it stopped acting at once: nothing more appended, nothing sent to the gateway (guard.log says DEPOSED "
        "and names the holder)"),
    Exit.INTERRUPTED: Code("interrupted", "interrupted (Ctrl-C)", "interrupted (Ctrl-C) before it finished"),
}

EVERY_COMMAND = (Exit.REFUSED, Exit.CRASHED, Exit.INTERRUPTED)  # any subcommand may exit these (usage, bug, Ctrl-C)


def said(codes: dict[Exit, str], width: int = 100) -> str:
    """A subcommand's `exit codes:` for its --help: each code it exits with, in its own words, one a line."""
    return "exit codes:\n" + "\n".join(
        textwrap.fill(f"{int(c):>3}  {words}", width, subsequent_indent=" " * 5,
                      break_on_hyphens=False) for c, words in sorted(codes.items()))


def summary(width: int = 100) -> str:
    """The table for `cockpit --help`: each code and its outcome word."""
    return "exit codes (every subcommand's --help says which it exits with):\n" + "\n".join(
        textwrap.fill(f"{int(c):>3}  {TABLE[c].brief}", width, subsequent_indent=" " * 5) for c in Exit)


def markdown(declared: dict[str, dict[Exit, str]]) -> str:
    """The README's table: each code, what it means, and the subcommands that exit with it."""
    rows = ["| exit | meaning | subcommands |", "|---|---|---|"]
    for c in Exit:
        users = [f"`{name}`" for name, codes in sorted(declared.items()) if c in codes]
        who = "every one" if c in EVERY_COMMAND or len(users) == len(declared) else ", ".join(users)
        rows.append(f"| {int(c)} | {TABLE[c].meaning} | {who} |")
    return "\n".join(rows)


def main() -> None:
    from cockpit.cli import declared_exit_codes

    print(markdown(declared_exit_codes()))


if __name__ == "__main__":
    main()

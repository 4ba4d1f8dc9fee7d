"""A command that changed nothing: the lines that say why, and the exit code it ends with (one class for every
subcommand and screen)."""

from __future__ import annotations

from cockpit.exits import Exit

NOTHING_CHANGED = "nothing was changed"


class Refused(Exception):
    """Nothing was changed; the lines say why (on stderr), `code` is the exit code. Raised by a
    headless command, or where a screen loads (in a thread, while Textual owns the terminal), and
    said by `cli.main` once the terminal is back. `reasons`: the lines for `--json`'s refusals."""

    def __init__(self, *lines: str, code: int = Exit.REFUSED):
        super().__init__("\n".join(lines))
        self.lines = lines
        self.code = code
        self.reasons = [ln.removeprefix("refused: ") for ln in lines if ln != NOTHING_CHANGED]


def refusal(reasons: list[str], code: int = Exit.REFUSED) -> Refused:
    """The core's (or the engine's) reasons, verbatim, each on a `refused:` line."""
    return Refused(*(f"refused: {r}" for r in reasons), code=code)

"""ConfigError: why a config cannot be used, as one-line `field.path: message` lines."""

from __future__ import annotations


class ConfigError(Exception):
    """A config that cannot be used; `errors` are lines of the form `field.path: message`."""

    def __init__(self, errors: list[str]):
        errors = [_one_line(e) for e in errors]
        super().__init__("\n".join(errors))
        self.errors = errors


def _one_line(text: str) -> str:
    """A message echoes what the file says (keys, values): it stays one line of printable text,
    so a key such as "\\r" or an escape sequence cannot forge or hide other lines on a terminal."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)

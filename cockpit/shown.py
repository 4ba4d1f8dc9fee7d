"""What a command writes, as the terminal shows it: control and bidi characters as escapes."""

from __future__ import annotations

import sys


class Shown:
    """stdout or stderr as the command writes them: every line reaches the terminal with its
    control and bidi characters shown as escapes (core.visible), whoever wrote it (a refusal
    quoting a server's error, argparse quoting an argument, a traceback), and a character the
    terminal's encoding lacks as a backslash escape, never a UnicodeEncodeError. `terminal` is
    the stream itself, for the one escape the command means (`status --watch` clears the screen)."""

    def __init__(self, terminal):
        self.terminal = terminal

    @classmethod
    def around(cls, stream):
        if stream is None or isinstance(stream, cls):
            return stream
        if stream in (sys.__stdout__, sys.__stderr__) and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
        return cls(stream)

    def write(self, text: str) -> int:
        from cockpit.core.visible import visible

        return self.terminal.write(visible(text, newlines=True))

    def __getattr__(self, name: str):
        return getattr(self.terminal, name)


def terminal(stream):
    """The stream under `Shown`, for a control sequence the command means to send."""
    return getattr(stream, "terminal", stream)

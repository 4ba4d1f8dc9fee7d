"""Textual's Linux driver with an input thread that sleeps until there is something to do.

Textual's input thread wakes ten times a second to look for a key and to see whether it should
stop: on a screen that only moves its clocks that is a quarter of the process's CPU. This one
sleeps until a key arrives, a half-read escape sequence is due (the parser's own timeout, so a
lone Esc is a key as quickly as before) or the driver stops (a pipe wakes it at once); it looks
once a second regardless. Everything else is Textual's (textual==8.2.8, pinned)."""

from __future__ import annotations

import os
import selectors
from codecs import getincrementaldecoder
from threading import Event

from textual._time import get_time
from textual._xterm_parser import XTermParser
from textual.drivers.linux_driver import LinuxDriver

LONGEST_SLEEP_S = 1.0  # a missed wake-up costs at most this


def sleep_s(due: float | None, now: float) -> float:
    """How long the input thread may sleep: until a half-read escape sequence is due to become a
    key (`due`, the parser's deadline), or the longest sleep when nothing is pending."""
    return LONGEST_SLEEP_S if due is None else min(LONGEST_SLEEP_S, max(0.0, due - now))


class _WakingEvent(Event):
    """The driver's exit event: setting it also wakes the sleeping input thread."""

    def __init__(self, wake: int):
        super().__init__()
        self._wake = wake

    def set(self) -> None:
        super().set()
        try:
            os.write(self._wake, b".")
        except OSError:  # a full pipe is already a wake-up
            pass


class QuietDriver(LinuxDriver):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._woken, wake = os.pipe()
        os.set_blocking(self._woken, False)
        os.set_blocking(wake, False)
        self.exit_event = _WakingEvent(wake)

    def run_input_thread(self) -> None:
        """Textual's loop (LinuxDriver.run_input_thread), with `sleep_s` for its 0.1 s and a pipe that wakes it."""
        selector = selectors.SelectSelector()
        selector.register(self.fileno, selectors.EVENT_READ)
        selector.register(self._woken, selectors.EVENT_READ)
        fileno = self.fileno
        parser = XTermParser(self._debug)
        feed, tick = parser.feed, parser.tick
        decode = getincrementaldecoder("utf-8")().decode

        def process(events, final: bool = False) -> None:
            for key, mask in events:
                if key.fd == self._woken:
                    try:
                        os.read(self._woken, 64)
                    except BlockingIOError:
                        pass
                elif mask & selectors.EVENT_READ:
                    data = decode(os.read(fileno, 1024 * 4), final=final)
                    if not data:
                        break  # stdin is piped
                    for event in feed(data):
                        self.process_message(event)
            for event in tick():
                self.process_message(event)

        try:
            while not self.exit_event.is_set():
                process(selector.select(sleep_s(parser._timeout_time, get_time())))
            selector.unregister(self.fileno)
            process(selector.select(0.1), final=True)
        finally:
            selector.close()
            try:
                for _ in feed(""):
                    pass
            except Exception:  # noqa: BLE001 - as Textual: an unfinished sequence at exit is dropped
                pass

    def close(self) -> None:
        super().close()
        for fd in (self._woken, self.exit_event._wake):
            try:
                os.close(fd)
            except OSError:
                pass

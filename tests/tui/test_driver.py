"""The input thread's sleep (cockpit/tui/driver.py): as long as nothing is pending, and never past
the moment a half-read escape sequence becomes a key."""

from cockpit.tui.driver import LONGEST_SLEEP_S, QuietDriver, _WakingEvent, sleep_s


def test_nothing_pending_sleeps_the_longest():
    assert sleep_s(None, 100.0) == LONGEST_SLEEP_S == 1.0


def test_a_pending_escape_wakes_the_thread_when_it_is_due():
    assert abs(sleep_s(100.05, 100.0) - 0.05) < 1e-9
    assert sleep_s(99.0, 100.0) == 0.0  # overdue: look at once
    assert sleep_s(105.0, 100.0) == LONGEST_SLEEP_S  # never longer than the longest sleep


def test_setting_the_exit_event_writes_to_the_wake_pipe():
    import os

    r, w = os.pipe()
    try:
        event = _WakingEvent(w)
        assert not event.is_set()
        event.set()
        assert event.is_set()
        assert os.read(r, 16) == b"."
    finally:
        os.close(r)
        os.close(w)


def test_the_cockpit_picks_the_quiet_driver_on_linux_unless_told_otherwise(monkeypatch):
    from textual import constants

    from cockpit.tui.app import CockpitApp

    app = CockpitApp(loader=lambda: None)
    monkeypatch.setattr(constants, "DRIVER", None)
    assert app.get_driver_class() is QuietDriver
    monkeypatch.setattr(constants, "DRIVER", "textual.drivers.headless_driver:HeadlessDriver")
    assert app.get_driver_class().__name__ == "HeadlessDriver"

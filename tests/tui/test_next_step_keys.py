"""The next step is data (core.nextstep): the captain's screen says it with its key, an observer
says the headline alone, since nothing can be done there (issue 21: no "press s" on faces that cannot act)."""

from __future__ import annotations

import pytest

from tests.tui.scenes import text_of
from tests.tui.test_app import _scene_for

pytestmark = pytest.mark.anyio

STEPS = {
    "ready-to-start": ("READY: preflight passed", ", press s to start at 5 %"),
    "ready-to-advance": ("READY: GO recorded", ", press a to advance to 25 %"),
}


@pytest.mark.parametrize("state", list(STEPS))
async def test_only_the_captain_is_told_which_key_takes_the_next_step(tmp_path, state):
    scene = await _scene_for(tmp_path, state)
    head, step = STEPS[state]
    for app, said in ((scene.app(), head + step), (scene.observer_app(), head)):
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            assert text_of(app.query_one("#banner")).strip() == said

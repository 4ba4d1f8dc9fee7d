"""The command palette: the cockpit's actions (only those this terminal may run) and the ChatOps line."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual.command import DiscoveryHit, Hit, Hits, Provider

from cockpit.core.visible import visible

if TYPE_CHECKING:
    from cockpit.tui.app import CockpitApp


class CockpitCommands(Provider):
    def _actions(self):
        app = cast("CockpitApp", self.app)  # the palette of CockpitApp (its COMMANDS), replay's too
        for action, label, help_text in app.PALETTE:
            if app.check_action(action, ()) is True:  # an observer is never offered a mutating action
                yield action, label, help_text
        if app.check_action("run_checks", ()) is True:
            assert app.desk is not None  # while the plan loads check_action offers nothing but quit
            described = app.desk.check_help()
            for check in app.desk.checks():  # re-run one check, not all of them
                yield (f"run_check('{check.value}')", visible(f"Run preflight check: {check.label}"),
                       visible(described.get(check.value, "")))

    async def discover(self) -> Hits:
        for action, label, help_text in self._actions():
            yield DiscoveryHit(label, partial(self.app.run_action, action), help=help_text)

    async def search(self, query: str) -> Hits:
        if query.lstrip().startswith("/approve"):
            app = cast("CockpitApp", self.app)
            yield Hit(100, Text(visible(f"ChatOps: {query.strip()}")), partial(app.check_chatops, query.strip()),
                      help="check this approval line against the plan")
            return
        matcher = self.matcher(query)
        for action, label, help_text in self._actions():
            score = matcher.match(label)
            if score > 0:
                yield Hit(score, matcher.highlight(label), partial(self.app.run_action, action), help=help_text)

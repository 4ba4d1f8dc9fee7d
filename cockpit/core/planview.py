"""The plan as the core reads it: exactly the parts of the config's `Plan` the read model, the
headline and the guard's sight use, as read-only protocols the `Plan` satisfies structurally
(mypy checks it where a face passes its plan in), so the core imports no config."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Protocol

from cockpit.core.compare import Comparison


class PlanTrigger(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def check(self) -> str | None: ...  # a check-backed trigger: the preflight check it re-runs
    @property
    def comparison(self) -> Comparison: ...
    @property
    def threshold(self) -> float | None: ...
    @property
    def above_baseline_pct(self) -> float | None: ...  # a relative threshold: percent above its baseline
    @property
    def action(self) -> str: ...  # rollback | hold | page
    @property
    def level(self) -> str: ...  # the escalation level it pages
    @property
    def unit(self) -> str: ...
    @property
    def query(self) -> str | None: ...  # None for a check-backed trigger


class PlanCriterion(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def query(self) -> str: ...  # "" for a criterion not read from Prometheus


class PlanGate(Protocol):
    @property
    def owners(self) -> Sequence[str]: ...
    @property
    def auto(self) -> Sequence[PlanCriterion]: ...
    @property
    def manual(self) -> Sequence[str]: ...


class PhaseStep(Protocol):
    """A phase as the phase track shows it: the config's and the journal's (`events.PhaseSpec`) alike."""

    @property
    def name(self) -> str: ...
    @property
    def weight(self) -> int: ...


class PhaseTrack(Protocol):
    """A plan with phases: the config `Plan` or the journal's `PlanLoaded`."""

    @property
    def phases(self) -> Sequence[PhaseStep]: ...


class PlanPhase(PhaseStep, Protocol):
    @property
    def soak(self) -> timedelta: ...
    @property
    def gate(self) -> PlanGate: ...


class PlanCheck(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def description(self) -> str: ...


class PlanKillSwitch(Protocol):
    @property
    def flag(self) -> str: ...
    @property
    def notify(self) -> str: ...  # the channel told of a rollback; "" for none


class PlanLevel(Protocol):
    @property
    def level(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def scope(self) -> str: ...
    @property
    def owners(self) -> Sequence[str]: ...
    @property
    def contacts(self) -> Sequence[str]: ...
    @property
    def channel(self) -> str: ...
    @property
    def ack_timeout(self) -> timedelta | None: ...  # unacknowledged this long: the next level is paged


class PlanBudgetCategory(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def monthly(self) -> float: ...
    @property
    def projected(self) -> float: ...


class PlanBudgetAlert(Protocol):
    @property
    def at_pct(self) -> float: ...
    @property
    def action(self) -> str: ...


class PlanBudget(Protocol):
    @property
    def currency(self) -> str: ...
    @property
    def categories(self) -> Sequence[PlanBudgetCategory]: ...
    @property
    def alerts(self) -> Sequence[PlanBudgetAlert]: ...


class PlanPrometheus(Protocol):
    @property
    def poll_interval(self) -> timedelta: ...


class PlanView(Protocol):
    """The config `Plan` as the core sees it."""

    @property
    def triggers(self) -> Sequence[PlanTrigger]: ...
    @property
    def phases(self) -> Sequence[PlanPhase]: ...
    @property
    def preflight(self) -> Sequence[PlanCheck]: ...
    @property
    def sign_offs(self) -> Sequence[str]: ...  # role ids, in the plan's order
    @property
    def kill_switch(self) -> PlanKillSwitch: ...
    @property
    def escalation(self) -> Sequence[PlanLevel]: ...
    @property
    def budget(self) -> PlanBudget: ...
    @property
    def prometheus(self) -> PlanPrometheus | None: ...  # None: the monitor's default poll interval

    def role_title(self, role: str) -> str: ...

"""The whole plan (Plan), its cross-field check, its fingerprint and its TOML-ready form."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from cockpit.config.checks import plan_problems
from cockpit.config.connections import GatewayConfig, Prometheus
from cockpit.config.escalation import Alertmanager, Budget, ChannelConfig, EscalationLevel
from cockpit.config.evidence import Evidence, PostDeploymentItem
from cockpit.config.fields import FilePath, Ident, Model, Name
from cockpit.config.judge import Judge
from cockpit.config.phases import KillSwitch, Phase, Trigger
from cockpit.config.preflight import Check, PromQLCheck
from cockpit.config.release import Release, Role
from cockpit.config.state import StateStore


class Plan(Model):
    """The whole canary plan. Cross-field rules are checked here, so a bad plan never starts."""

    state_dir: FilePath = Path("state")  # relative to the config file
    release: Release
    roles: dict[Ident, Role] = Field(min_length=1)
    sign_offs: list[Ident] = []
    preflight: list[Check] = []
    phases: list[Phase] = Field(min_length=1)
    triggers: list[Trigger] = []
    kill_switch: KillSwitch
    escalation: list[EscalationLevel] = Field(min_length=1)
    budget: Budget
    evidence: Evidence = Evidence()
    prometheus: Prometheus | None = None
    gateways: dict[Ident, GatewayConfig] = Field(min_length=1)
    post_deployment: list[PostDeploymentItem] = []  # issue 11: the checklist after completion
    channels: dict[Name, ChannelConfig] = {}  # by the names levels, alerts and the kill switch use
    alertmanager: Alertmanager | None = None
    judge: Judge | None = None  # issue 23: the canary judged against its baseline
    state: StateStore = StateStore()  # issue 25: the file journal, or etcd

    @model_validator(mode="after")
    def _cross_field(self) -> Plan:
        errors = plan_problems(self)
        poll = self.prometheus.poll_interval if self.prometheus else None
        if self.state.store == "etcd" and poll is not None and self.state.ttl(poll) <= poll:
            errors.append(f"state.lease_ttl: {self.state.ttl(poll).total_seconds():g}s is not longer than "
                          f"prometheus.poll_interval ({poll.total_seconds():g}s): the guard renews it each round")
        if errors:
            raise ValueError("; ".join(errors))
        return self

    def undeclared_channels(self) -> list[tuple[str, str]]:
        """(field, name) of every channel the plan sends to that [channels] does not declare, when
        it declares any: those messages are journaled as not delivered. check-config warns."""
        if not self.channels:
            return []
        named = [(f"escalation.{i}.channel", lvl.channel) for i, lvl in enumerate(self.escalation)]
        named += [(f"budget.alerts.{i}.channel", a.channel) for i, a in enumerate(self.budget.alerts)]
        named.append(("kill_switch.notify", self.kill_switch.notify))
        return [(where, c) for where, c in named if c and c not in self.channels]

    # Helpers the engine and the screen share.
    def role_title(self, role: str) -> str:
        r = self.roles.get(role)
        return r.title if r else role

    def level(self, name: str) -> EscalationLevel | None:
        return next((lvl for lvl in self.escalation if lvl.level == name), None)

    def check(self, check_id: str) -> Check | None:
        return next((c for c in self.preflight if c.id == check_id), None)

    def queries(self) -> list[tuple[str, str]]:
        """Every PromQL expression of the plan, with its field path."""
        found = [(f"preflight.{i}.query", c.query) for i, c in enumerate(self.preflight) if isinstance(c, PromQLCheck)]
        for i, phase in enumerate(self.phases):
            found += [(f"phases.{i}.gate.auto.{j}.query", c.query) for j, c in enumerate(phase.gate.auto)
                      if c.source == "prometheus"]
        for i, trig in enumerate(self.triggers):
            found += [(f"triggers.{i}.{k}", q) for k, q in (("query", trig.query), ("baseline", trig.baseline))
                      if q is not None]
        if self.kill_switch.verify_query is not None:
            found.append(("kill_switch.verify_query", self.kill_switch.verify_query))
        if self.judge is not None:
            for i, m in enumerate(self.judge.metrics):
                for key, q in (("query", m.query), ("events", m.events), ("exposure", m.exposure)):
                    if q is not None:
                        found += [(f"judge.metrics.{i}.{key} ({track})", self.judge.query(q, track, 300))
                                  for track in ("canary", "baseline")]
        for i, cat in enumerate(self.budget.categories):
            if cat.spend_query is not None:
                found.append((f"budget.categories.{i}.spend_query", cat.spend_query))
        return found


WHERE_IT_IS_KEPT = {"state_dir", "state"}  # each bastion's own: its dir, its nearest etcd endpoint first


def plan_digest(plan: Plan) -> str:
    """A stable fingerprint of the rollout's plan, journaled so a restart notices a changed plan.

    Defaults are left out, so a new optional setting in a later cockpit does not read as a change;
    where the record is kept ([state], state_dir) is left out, so two bastions run one plan.
    """
    return _digest(plan, WHERE_IT_IS_KEPT)


def same_plan(plan: Plan, digest: str) -> bool:
    """Whether `digest` (journaled) is this plan's, also as a cockpit before [state] fingerprinted it."""
    return digest in (plan_digest(plan), _digest(plan, {"state"}))


def _digest(plan: Plan, leave_out: set[str]) -> str:
    dumped = plan.model_dump_json(by_alias=True, exclude_defaults=True, exclude=leave_out)
    return hashlib.sha256(dumped.encode()).hexdigest()


def dump_plan(plan: Plan) -> dict[str, Any]:
    """The plan as TOML-ready data (no None values, durations as "20m")."""
    return plan.model_dump(mode="json", by_alias=True, exclude_none=True)

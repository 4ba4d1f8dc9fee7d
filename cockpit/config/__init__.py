"""The canary plan as validated pydantic models, loaded from TOML; every error names its field.

A package of rooms, one idea each; every name other modules import is re-exported here.
"""

from cockpit.config.checks import plan_problems, query_problem
from cockpit.config.connections import GatewayConfig, HaproxyGateway, HttpGateway, Prometheus, SimulatedGateway
from cockpit.config.errors import ConfigError
from cockpit.config.escalation import (
    Alertmanager,
    Budget,
    BudgetAlert,
    BudgetCategory,
    ChannelConfig,
    EscalationLevel,
    PagerDutyChannel,
    SlackChannel,
    SpendControl,
    WebhookChannel,
)
from cockpit.config.evidence import (
    BundleName,
    Evidence,
    GrafanaEvidence,
    JaegerEvidence,
    OpaEvidence,
    PostDeployCheck,
    PostDeploymentItem,
)
from cockpit.config.fields import (
    MAX_DURATION,
    ClockTime,
    Count,
    Duration,
    FilePath,
    HaproxyName,
    Ident,
    Model,
    Name,
    Number,
    PositiveDuration,
    Weekday,
)
from cockpit.config.judge import JUDGE_TRACK, JUDGE_WINDOW, Judge, JudgeMetric
from cockpit.config.loading import (
    MAX_PLAN_BYTES,
    load_plan,
    parse_journaled_plan,
    parse_plan,
    read_plan_text,
    resolve_state_dir,
)
from cockpit.config.phases import Action, Criterion, Gate, KillSwitch, NoData, Phase, QueryFailure, Trigger
from cockpit.config.plan import Plan, dump_plan, plan_digest, same_plan
from cockpit.config.preflight import (
    Check,
    CommandCheck,
    Expectation,
    FreezeWindowCheck,
    HttpCheck,
    PromQLCheck,
    RehearsalCheck,
    ReportCheck,
)
from cockpit.config.release import Release, Role
from cockpit.config.secrets import SecretRef
from cockpit.config.state import StateStore

__all__ = [
    "MAX_DURATION", "MAX_PLAN_BYTES", "JUDGE_TRACK", "JUDGE_WINDOW",
    "Action", "Alertmanager", "Budget", "BudgetAlert", "BudgetCategory", "BundleName", "ChannelConfig", "Check",
    "ClockTime", "CommandCheck", "ConfigError", "Count", "Criterion", "Duration", "EscalationLevel", "Evidence",
    "Expectation", "FilePath", "FreezeWindowCheck", "GatewayConfig", "Gate", "GrafanaEvidence", "HaproxyGateway",
    "HaproxyName", "HttpCheck", "HttpGateway", "Ident", "JaegerEvidence", "Judge", "JudgeMetric", "KillSwitch",
    "Model", "Name", "NoData", "Number", "OpaEvidence", "PagerDutyChannel", "Phase", "Plan", "PositiveDuration",
    "PostDeployCheck", "PostDeploymentItem", "Prometheus", "PromQLCheck", "QueryFailure", "RehearsalCheck",
    "Release", "ReportCheck", "Role", "SecretRef", "SimulatedGateway", "SlackChannel", "SpendControl", "StateStore",
    "Trigger",
    "WebhookChannel", "Weekday",
    "dump_plan", "load_plan", "parse_journaled_plan", "parse_plan", "plan_digest", "plan_problems", "query_problem",
    "read_plan_text", "resolve_state_dir", "same_plan",
]

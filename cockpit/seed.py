"""The seed plan (IntelGraph v0.1.0), shipped with the package: `init`'s starter and the demo's plan."""

from __future__ import annotations

from pathlib import Path

from cockpit.config import Plan, load_plan

SEED = Path(__file__).with_name("seed_plan.toml")  # a link to config.example.toml in a checkout


def seed_plan() -> Plan:
    return load_plan(SEED)

"""The authorising ChatOps line, parsed and checked against the plan.

`/approve canary v0.1.0 → prod (us-west-2, US-only) steps: 5/25/50/100 kill-switch:gateway-flag`
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_LINE = re.compile(
    r"^/approve\s+canary\s+(?P<version>\S+)\s*(?:→|->)\s*(?P<env>\S+)\s*"
    r"\((?P<region>[^,()]+)(?:,\s*(?P<residency>[^()]+))?\)\s*"
    r"steps:\s*(?P<steps>[\d/ ]+?)\s+kill-switch:\s*(?P<kill>\S+)\s*$"
)


@dataclass(frozen=True)
class Approval:
    version: str
    environment: str
    region: str
    residency: str
    steps: tuple[int, ...]
    kill_switch: str


def parse(line: str) -> Approval | None:
    m = _LINE.match(line.strip())
    if not m:
        return None
    return Approval(
        version=m["version"],
        environment=m["env"],
        region=m["region"].strip(),
        residency=(m["residency"] or "").strip(),
        steps=tuple(int(s) for s in m["steps"].replace(" ", "").split("/") if s),
        kill_switch=m["kill"],
    )


def mismatches(line: str, *, version: str, environment: str, region: str, residency: str,
               steps: tuple[int, ...]) -> list[str]:
    """What the line says that the plan does not; [] when it authorises exactly this plan."""
    approval = parse(line)
    if approval is None:
        return ["not an approval line: /approve canary VERSION → ENV (REGION, RESIDENCY) steps: A/B/C kill-switch:KIND"]
    out = []
    if approval.version != version:
        out.append(f"version {approval.version} ≠ plan {version}")
    if not environment.startswith(approval.environment):
        out.append(f"environment {approval.environment} ≠ plan {environment}")
    if approval.region != region:
        out.append(f"region {approval.region} ≠ plan {region}")
    if residency and approval.residency != residency:
        out.append(f"residency {approval.residency or '(none)'} ≠ plan {residency}")
    if approval.steps != steps:
        out.append(f"steps {'/'.join(map(str, approval.steps))} ≠ plan {'/'.join(map(str, steps))}")
    if approval.kill_switch != "gateway-flag":
        out.append(f"kill-switch {approval.kill_switch} ≠ plan gateway-flag")
    return out

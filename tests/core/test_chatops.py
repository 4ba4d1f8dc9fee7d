"""The seed's ChatOps approval, field by field:
`/approve canary v0.1.0 → prod (us-west-2, US-only) steps: 5/25/50/100 kill-switch:gateway-flag`."""

from __future__ import annotations

import pytest

from cockpit.core.chatops import Approval, mismatches, parse

SEED = "/approve canary v0.1.0 → prod (us-west-2, US-only) steps: 5/25/50/100 kill-switch:gateway-flag"
PLAN = dict(version="v0.1.0", environment="production", region="us-west-2", residency="US-only", steps=(5, 25, 50, 100))


def test_the_seed_line_parses_field_by_field():
    assert parse(SEED) == Approval(
        version="v0.1.0", environment="prod", region="us-west-2", residency="US-only",
        steps=(5, 25, 50, 100), kill_switch="gateway-flag",
    )


def test_the_seed_line_authorises_the_seed_plan(plan):
    assert plan.release.chatops == SEED
    assert mismatches(SEED, **PLAN) == []
    assert mismatches(
        plan.release.chatops, version=plan.release.version, environment=plan.release.environment,
        region=plan.release.region, residency=plan.release.data_residency, steps=tuple(p.weight for p in plan.phases),
    ) == []


@pytest.mark.parametrize(
    "line, expected",
    [
        ("  " + SEED + "  ", SEED),  # surrounding blanks are not part of the line
        (SEED.replace(" → ", " -> "), SEED),  # an ASCII arrow
        (SEED.replace(" → ", "→"), SEED),
        (SEED.replace("(us-west-2, US-only)", "( us-west-2 ,  US-only )"), SEED),
        (SEED.replace("steps: 5/25/50/100", "steps:5 / 25 / 50 / 100"), SEED),
        (SEED.replace("kill-switch:gateway-flag", "kill-switch: gateway-flag"), SEED),
        ("/approve  canary\tv0.1.0 → prod (us-west-2, US-only)   steps: 5/25/50/100  kill-switch:gateway-flag", SEED),
    ],
)
def test_spacing_and_arrow_variants_mean_the_same(line, expected):
    assert parse(line) == parse(expected)


def test_residency_may_be_left_out():
    a = parse(SEED.replace("(us-west-2, US-only)", "(us-west-2)"))
    assert (a.region, a.residency) == ("us-west-2", "")


@pytest.mark.parametrize(
    "line",
    [
        "",
        "approve canary v0.1.0 → prod (us-west-2, US-only) steps: 5/25/50/100 kill-switch:gateway-flag",
        "please /approve canary v0.1.0 → prod (us-west-2, US-only) steps: 5/25/50/100 kill-switch:gateway-flag",
        SEED + " just kidding",  # trailing text: not this approval
        SEED + " kill-switch:none",
        SEED.replace("canary", "bluegreen"),
        SEED.replace(" → prod", " prod"),  # no arrow
        SEED.replace("(us-west-2, US-only)", "us-west-2, US-only"),  # no parentheses
        SEED.replace("(us-west-2, US-only)", "()"),
        SEED.replace("steps: 5/25/50/100", "steps: five"),
        SEED.replace(" kill-switch:gateway-flag", ""),
        SEED.replace("kill-switch:gateway-flag", "kill-switch:"),
    ],
)
def test_what_is_not_an_approval_line(line):
    assert parse(line) is None
    assert mismatches(line, **PLAN) == [
        "not an approval line: /approve canary VERSION → ENV (REGION, RESIDENCY) steps: A/B/C kill-switch:KIND"
    ]


@pytest.mark.parametrize(
    "line, expected",
    [
        (SEED.replace("v0.1.0", "v0.2.0"), ["version v0.2.0 ≠ plan v0.1.0"]),
        (SEED.replace("v0.1.0", "v0.1"), ["version v0.1 ≠ plan v0.1.0"]),
        (SEED.replace("→ prod", "→ staging"), ["environment staging ≠ plan production"]),
        (SEED.replace("→ prod", "→ production"), []),  # the full name is the plan's too
        (SEED.replace("→ prod", "→ prod-eu"), ["environment prod-eu ≠ plan production"]),
        (SEED.replace("us-west-2", "us-east-1"), ["region us-east-1 ≠ plan us-west-2"]),
        (SEED.replace("US-only", "EU-only"), ["residency EU-only ≠ plan US-only"]),
        (SEED.replace("(us-west-2, US-only)", "(us-west-2)"), ["residency (none) ≠ plan US-only"]),
        (SEED.replace("5/25/50/100", "5/50/100"), ["steps 5/50/100 ≠ plan 5/25/50/100"]),
        (SEED.replace("5/25/50/100", "5/25/50/100/100"), ["steps 5/25/50/100/100 ≠ plan 5/25/50/100"]),
        (SEED.replace("5/25/50/100", "25/5/50/100"), ["steps 25/5/50/100 ≠ plan 5/25/50/100"]),
        (SEED.replace("gateway-flag", "dns"), ["kill-switch dns ≠ plan gateway-flag"]),
        (
            "/approve canary v9 → dev (eu-central-1, EU-only) steps: 10/100 kill-switch:none",
            [
                "version v9 ≠ plan v0.1.0",
                "environment dev ≠ plan production",
                "region eu-central-1 ≠ plan us-west-2",
                "residency EU-only ≠ plan US-only",
                "steps 10/100 ≠ plan 5/25/50/100",
                "kill-switch none ≠ plan gateway-flag",
            ],
        ),
    ],
)
def test_each_field_that_differs_from_the_plan_is_named(line, expected):
    assert mismatches(line, **PLAN) == expected


def test_a_plan_without_residency_accepts_any():
    plan = dict(PLAN, residency="")
    assert mismatches(SEED, **plan) == []
    assert mismatches(SEED.replace("(us-west-2, US-only)", "(us-west-2)"), **plan) == []


def test_steps_with_a_trailing_slash_are_the_same_steps():
    assert parse(SEED.replace("5/25/50/100", "5/25/50/100/")).steps == (5, 25, 50, 100)


def test_a_malformed_step_list_is_a_mismatch_not_a_crash():
    problems = mismatches(SEED.replace("5/25/50/100", "5 25/50/100"), **PLAN)
    assert len(problems) == 1 and problems[0].startswith("steps ") and problems[0].endswith(" ≠ plan 5/25/50/100")

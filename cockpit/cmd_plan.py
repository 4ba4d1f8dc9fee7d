"""`check-config` and `init`: a plan checked offline, or a starter plan written."""

from __future__ import annotations

import sys
from pathlib import Path

from cockpit import headless as h
from cockpit.cmd_shared import plan_or_refuse, reported
from cockpit.exits import Exit
from cockpit.refused import Refused


@reported
def cmd_check_config(args) -> int:
    plan = plan_or_refuse(args.file)
    h.report.outcome = "valid"
    h.report.facts.update(file=args.file, release=plan.release.name, version=plan.release.version,
                          phases=[p.weight for p in plan.phases], checks=len(plan.preflight),
                          triggers=len(plan.triggers), sign_offs=len(plan.sign_offs), warnings=[])
    print(
        f"{args.file}: ok: {plan.release.name} {plan.release.version}, "
        f"{len(plan.phases)} phases ({'/'.join(str(p.weight) for p in plan.phases)} %), "
        f"{len(plan.preflight)} checks, {len(plan.triggers)} triggers, {len(plan.sign_offs)} sign-offs"
    )
    for where, channel in plan.undeclared_channels():
        warning = f"{where}: {channel!r} is not in [channels]: what goes to it is journaled as not delivered"
        h.report.facts["warnings"].append(warning)
        print(f"{args.file}: warning: {warning}", file=sys.stderr)
    return Exit.OK


def cmd_init(args) -> int:
    import tomli_w

    from cockpit.config import dump_plan
    from cockpit.seed import seed_plan

    target = Path(args.file)
    if not target.parent.is_dir():
        raise Refused(f"{target}: no directory {target.parent}; create it first")
    if target.is_dir():
        raise Refused(f"{target}: is a directory; give a file name such as {target / 'plan.toml'}")
    if target.exists() and not args.force:
        raise Refused(f"{target}: exists; pass --force to overwrite")
    header = "# cockpit starter plan (the IntelGraph v0.1.0 seed); edit, then: cockpit check-config FILE\n"
    try:
        target.write_text(header + tomli_w.dumps(dump_plan(seed_plan())))
    except OSError as e:
        raise Refused(f"{target}: cannot write: {e.strerror}") from None
    print(f"{target}: written")
    return Exit.OK

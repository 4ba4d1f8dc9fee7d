"""What reads the journal after the fact, or adds to it: `verify`, `evidence`, `done`, `replay`, `report`."""

from __future__ import annotations

import sys
from pathlib import Path

from cockpit import headless as h
from cockpit.cmd_shared import plan_or_refuse, reported, store_of
from cockpit.exits import Exit
from cockpit.refused import Refused, refusal


def cmd_verify(args) -> int:
    """Exit 0 when the chain is intact and ends where the head record says, 1 when not (every
    problem named by line, one a line), 2 when there is no journal to check."""
    from cockpit.status import kept_aside
    from cockpit.store import FileStore
    from cockpit.store.chain import JournalError
    from cockpit.store.verify import JOURNAL

    store = store_of(args)
    state_dir, local = store.state_dir, isinstance(store, FileStore)
    path = state_dir / JOURNAL if local else getattr(store, "where", state_dir)
    h.report.facts.update(journal=str(path))
    try:
        scan = store.verify()
    except JournalError as e:
        raise Refused(str(e)) from None
    aside = kept_aside(state_dir, store)
    for line in aside:
        print(f"{path}: {line}", file=sys.stderr)
    problems = scan.problems + [scan.head] if scan.head else scan.problems
    last = scan.records[-1].hash if scan.records else None
    h.report.facts.update(intact_events=len(scan.records), readable_events=len(scan.salvaged), last_hash=last,
                          head_record=_has_head(state_dir) if local else not scan.head, kept_aside=aside)
    if problems:
        h.report.outcome = "does not verify"
        h.report.problems += [str(p) for p in problems]
        for problem in problems:
            print(f"{path}: {problem}", file=sys.stderr)
        readable = len(scan.salvaged) - len(scan.records)
        more = f"; {readable} events after them still read" if readable else ""
        print(f"{path}: the first {len(scan.records)} events are intact{more}", file=sys.stderr)
        return Exit.FAIL
    h.report.outcome = "intact"
    head = "head agrees" if not local or _has_head(state_dir) else "no head record yet (the next append writes one)"
    print(f"{path}: ok: {len(scan.records)} events, chain intact, head {last[:12] if last else '-'} ({head})")
    return Exit.OK


def _has_head(state_dir: Path) -> bool:
    from cockpit.store.head import HEAD

    return (state_dir / HEAD).exists()


@reported
def cmd_verify_any(args) -> int:
    """`verify --evidence DIR`: the bundle against its manifest; otherwise the journal's chain."""
    if not getattr(args, "evidence", None):
        return cmd_verify(args)
    from cockpit.evidence import EvidenceError, manifest_files, manifest_sha, verify_bundle

    bundle = Path(args.evidence)
    h.report.facts.update(bundle=str(bundle))
    try:
        manifest_files(bundle)
    except EvidenceError as e:  # nothing to check the files against
        raise Refused(str(e)) from None
    problems = verify_bundle(bundle)
    for problem in problems:
        print(f"{bundle}: {problem}", file=sys.stderr)
    if problems:
        h.report.outcome = "does not verify"
        h.report.problems += problems
        return Exit.FAIL
    sha = manifest_sha(bundle)
    h.report.facts.update(manifest_sha256=sha)
    vouched = ""
    if args.state_dir or args.config:  # and the journal vouches for this manifest
        from cockpit.core import events as ev
        from cockpit.store.chain import JournalError

        try:
            scan = store_of(args).verify()
        except JournalError as e:
            raise Refused(str(e)) from None
        hit = [r for r in scan.records if isinstance(r.payload, ev.EvidenceCollected) and r.payload.sha256 == sha]
        if not hit:
            said = f"the journal has no evidence_collected event for manifest sha256 {sha}"
            h.report.outcome = "not journaled"
            h.report.problems.append(said)
            print(f"{bundle}: {said}", file=sys.stderr)
            return Exit.FAIL
        h.report.facts.update(journaled_as=hit[-1].seq)
        vouched = f", journaled as event {hit[-1].seq}"
    h.report.outcome = "intact"
    print(f"{bundle}: ok: every file matches manifest.json (sha256 {sha[:16]}{vouched})")
    return Exit.OK


@reported
def cmd_evidence(args) -> int:
    """Build a bundle now (the current phase by default), journal its manifest's hash; exit 1 when
    the bundle is incomplete (it says which files are missing and why), 2 when none could be made."""
    from cockpit import evidence
    from cockpit.clock import SystemClock
    from cockpit.config import ConfigError, resolve_state_dir
    from cockpit.session import build_metrics, open_store, where
    from cockpit.store.chain import JournalError
    from cockpit.whoami import whoami

    plan = plan_or_refuse(args.config)
    state_dir = resolve_state_dir(plan, Path(args.config))
    store = open_store(plan, Path(args.config))
    try:
        if not store.started():
            raise Refused(f"{where(store)}: no journal: the rollout has not started")
        journal = store.journal(actor=whoami("evidence"))
    except JournalError as e:
        raise Refused(f"{where(store)}: {e}" if where(store) not in str(e) else str(e)) from None
    try:
        metrics = build_metrics(plan)
    except ConfigError as e:
        print(f"warning: no metrics source: {'; '.join(e.errors)}", file=sys.stderr)
        metrics = None
    which = "final" if args.final else "rollback" if args.rollback else "phase"
    phase = args.phase - 1 if args.phase is not None else None
    now = SystemClock().now()
    try:
        bundle = evidence.collect(plan, journal.records, base_dir=Path(args.config).parent, which=which, now=now,
                                  phase=phase, state_dir=state_dir, metrics=metrics)
    except evidence.EvidenceError as e:
        raise Refused(f"evidence: {e}") from None
    h.report.facts.update(bundle=str(bundle.dir), files=len(bundle.files), missing=dict(sorted(bundle.missing.items())),
                          manifest_sha256=bundle.manifest_sha256, journaled=False)
    actor = whoami("evidence")
    try:
        evidence.journal_bundle(lambda payload: journal.append(payload, actor=actor, ts=now),
                                bundle, evidence.evidence_root(plan, Path(args.config).parent))
    except JournalError as e:
        h.report.outcome = "written, not journaled"
        h.report.problems.append(f"not journaled: {e}")
        print(f"{bundle.dir}: written, but NOT JOURNALED: {e}", file=sys.stderr)
        return Exit.FAIL
    h.report.facts["journaled"] = True
    print(f"{bundle.dir}: {len(bundle.files)} files, manifest sha256 {bundle.manifest_sha256} (journaled)")
    for name, why in sorted(bundle.missing.items()):
        h.report.problems.append(f"missing {name}: {why}")
        print(f"  missing {name}: {why}")
    if not bundle.complete:
        h.report.outcome = "incomplete"
    return Exit.OK if bundle.complete else Exit.FAIL


@reported
def cmd_done(args) -> int:
    """Tick off a post-deployment item; journaled with who did it."""
    from cockpit.clock import SystemClock
    from cockpit.core import events as ev
    from cockpit.core.postdeploy import tick_refusal
    from cockpit.core.state import fold
    from cockpit.session import where
    from cockpit.store.chain import JournalError
    from cockpit.whoami import whoami

    store = store_of(args)
    state_dir = where(store)
    try:
        if not store.started():
            raise Refused(f"{state_dir}: no journal: the rollout has not started")
    except JournalError as e:
        raise Refused(str(e)) from None
    actor = whoami("captain")
    if args.item == "auto":  # the items the cockpit can show done itself (needs the plan, for metrics)
        return _auto_tick(args, store, actor)
    try:
        journal = store.journal(actor=actor)
        if not args.name.strip():
            raise Refused("done: give --name (who did it)")
        if why := tick_refusal(fold(journal.records), args.item):
            raise refusal([why])
        _, record = journal.append(ev.PostDeploymentDone(item=args.item, name=args.name.strip(), evidence=args.note),
                                   actor=actor, ts=SystemClock().now())
    except JournalError as e:
        raise Refused(f"{state_dir}: {e}") from None
    h.report.written.append(record.seq)
    h.report.facts.update(ticked=[args.item])
    print(f"{args.item}: done by {args.name.strip()} (journal event {record.seq})")
    return Exit.OK


def _auto_tick(args, store, actor) -> int:
    from cockpit.clock import SystemClock
    from cockpit.config import ConfigError
    from cockpit.evidence import auto_tick
    from cockpit.session import build_metrics, where
    from cockpit.store.chain import JournalError

    if not args.config:
        raise Refused("done auto: give --config (the SLOs are measured from the plan's Prometheus)")
    plan = plan_or_refuse(args.config)
    try:
        metrics = build_metrics(plan)
    except ConfigError as e:
        print(f"warning: no metrics source: {'; '.join(e.errors)}", file=sys.stderr)
        metrics = None
    now = SystemClock().now()
    try:
        journal = store.journal(actor=actor)
        ticks = auto_tick(plan, journal.records, lambda p: journal.append(p, actor=actor, ts=now), now, metrics)
    except JournalError as e:
        raise Refused(f"{where(store)}: {e}") from None
    h.report.facts.update(ticked=[t.item for t in ticks])
    for t in ticks:
        print(f"{t.item}: done by the cockpit: {t.evidence}")
    if not ticks:
        print("nothing the cockpit can tick itself now")
    return Exit.OK


def cmd_replay(args) -> int:
    from cockpit.tui.replay import ReplayError, replay_app

    store = store_of(args)
    state_dir = store.state_dir
    try:
        app = replay_app(state_dir, speed=args.speed, theme=args.theme, store=store)
    except ReplayError as e:  # 1 as `verify` and `status` for a chain that does not verify; 2 for no journal
        raise Refused(f"refused: {e}", code=Exit.FAIL if _does_not_verify(store) else Exit.REFUSED) from None
    app.run()
    return Exit.OK


def _does_not_verify(store) -> bool:
    """A journal there whose chain or head does not verify (not: no journal, or none readable)."""
    from cockpit.store import FileStore
    from cockpit.store.chain import JournalError
    from cockpit.store.verify import JOURNAL

    try:
        there = (store.state_dir / JOURNAL).is_file() if isinstance(store, FileStore) else store.started()
        scan = store.verify() if there else None
    except (JournalError, OSError):
        return False
    return scan is not None and bool(scan.problems or scan.head)


@reported
def cmd_report(args) -> int:
    """Written from the journal's intact events; exit 1, as `status`, when the journal does not
    verify (the report says so at its top); `-o -` writes it to stdout."""
    from cockpit.report import ReportError, scrubbed, write_report
    from cockpit.store.chain import JournalError

    store = store_of(args)
    state_dir = store.state_dir
    to_stdout = args.output == "-"
    if to_stdout and args.json:
        raise Refused("report: -o - writes the report to stdout, where --json writes its document: "
                                    "give -o FILE with --json")
    try:
        if to_stdout:
            text = scrubbed(state_dir, args.format, store=store)
        else:
            path = write_report(state_dir, fmt=args.format, out=Path(args.output) if args.output else None,
                                store=store)
        problems = _report_problems(store)
    except (ReportError, JournalError) as e:
        raise Refused(f"report: {e}") from None
    h.report.facts.update(report="-" if to_stdout else str(path), format=args.format, journal_problems=problems)
    if to_stdout:
        sys.stdout.write(text)
    else:
        print(f"{path}: written")
    for problem in problems:
        print(problem, file=sys.stderr)
    h.report.outcome = "written, journal problems" if problems else "written"
    h.report.problems += problems
    return Exit.FAIL if problems else Exit.OK


def _report_problems(store) -> list[str]:
    """Why the report does not tell the whole rollout: the journal's chain or head does not verify
    (the report covers the events before the first problem), or events wait aside, not journaled."""
    from cockpit.store import FileStore
    from cockpit.store.kept import ASIDE
    from cockpit.store.verify import JOURNAL

    state_dir = store.state_dir
    scan = store.verify()
    path = state_dir / JOURNAL if isinstance(store, FileStore) else getattr(store, "where", state_dir)
    bad = [f"{path}: JOURNAL PROBLEM: {p}" for p in (scan.problems + [scan.head] if scan.head else scan.problems)]
    if bad:
        bad.append(f"{path}: the report covers the first {len(scan.records)} events, those intact "
                   "(`cockpit verify` names every problem)")
    try:
        kept, unreadable = store.kept()
    except OSError as e:
        return bad + [f"{state_dir / ASIDE}: cannot be read: {e.strerror or e}"]
    if kept or unreadable:
        bad.append(f"{state_dir / ASIDE}: {len(kept) + unreadable} events wait there, not journaled yet and not in "
                   "the report (the next append journals them)")
    return bad

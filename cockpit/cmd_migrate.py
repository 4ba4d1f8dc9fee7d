"""`cockpit migrate`: the rollout's journal copied between the plan's state dir and its etcd prefix, verified."""

from __future__ import annotations

import json
from pathlib import Path

from cockpit import headless as h
from cockpit.cmd_shared import plan_or_refuse, reported
from cockpit.exits import Exit
from cockpit.refused import Refused


@reported
def cmd_migrate(args) -> int:
    """Copy the journal to etcd (`--to etcd`) or back into the state dir (`--to file`), byte for byte,
    after verifying it; print what was copied and the `[state]` lines the plan needs from now on."""
    from cockpit.config import resolve_state_dir
    from cockpit.session import open_store
    from cockpit.store import FileStore
    from cockpit.store.chain import JournalError
    from cockpit.store.etcd_migrate import to_etcd, to_file
    from cockpit.store.etcd_store import EtcdStore

    plan = _on_etcd(plan_or_refuse(args.config), args)
    config = Path(args.config)
    state_dir = resolve_state_dir(plan, config)
    store = open_store(plan, config)
    assert isinstance(store, EtcdStore)  # _on_etcd made the plan's store etcd
    source, target = (FileStore(state_dir), store) if args.to == "etcd" else (store, FileStore(state_dir))
    named = {id(source): _name(source), id(target): _name(target)}
    h.report.facts.update(source=named[id(source)], destination=named[id(target)])
    try:
        if not source.started():
            raise Refused(f"refused: {named[id(source)]}: no journal to copy")
        scan = source.verify()
        if trouble := scan.problem or scan.head:
            h.report.outcome = "does not verify"
            h.report.problems.append(f"{named[id(source)]}: {trouble}")
            raise Refused(f"refused: {named[id(source)]}: {trouble}: a journal that does not verify is not copied "
                          "(`cockpit verify` names every problem)", code=Exit.FAIL)
        copied = (to_etcd(state_dir, store.client, store.prefix) if args.to == "etcd"
                  else to_file(store.client, store.prefix, state_dir))
    except JournalError as e:
        raise Refused(f"refused: {e}") from None
    last = scan.records[-1] if scan.records else None
    head = f"event {last.seq}, hash {last.hash[:16]}" if last else "empty"
    h.report.facts.update(events=copied, head_seq=last.seq if last else 0, head_hash=last.hash if last else None)
    h.report.outcome = "copied"
    print(f"copied {copied} events from {named[id(source)]} to {named[id(target)]}; both verify (head: {head})")
    print(f"from now on, the plan {config} says:")
    print("\n".join(state_lines(plan, args.to)))
    return Exit.OK


def _on_etcd(plan, args):
    """The plan with its etcd: its own [state], or --endpoints (and --prefix) for a plan still on the file store."""
    from cockpit.config import StateStore

    if plan.state.store == "etcd":
        if args.endpoints or args.prefix:
            raise Refused(f"refused: {args.config} names its etcd already ([state]): drop --endpoints and --prefix")
        return plan
    if args.to == "file":
        raise Refused(f"refused: {args.config}: the plan keeps its journal in the state dir already ([state] store "
                      "is \"file\"): nothing to copy back from etcd")
    if not args.endpoints:
        raise Refused("refused: --to etcd needs the etcd: --endpoints URL[,URL...] (or [state] store = \"etcd\" "
                      "with its endpoints, user and password in the plan)")
    try:
        state = StateStore(store="etcd", endpoints=args.endpoints.split(","), prefix=args.prefix)
    except ValueError as e:
        raise Refused(f"refused: --endpoints/--prefix: {e}") from None
    return plan.model_copy(update={"state": state})


def _name(store) -> str:
    from cockpit.session import where
    from cockpit.store import FileStore
    from cockpit.store.verify import JOURNAL

    return str(store.state_dir / JOURNAL) if isinstance(store, FileStore) else where(store)


def state_lines(plan, to: str) -> list[str]:
    """The plan's `[state]` block, as it must read once the journal lives `to` (TOML)."""
    if to == "file":
        return ["[state]", 'store = "file"   # or no [state] block at all: the file store is the default']
    s = plan.state
    lines = ["[state]", 'store = "etcd"', f"endpoints = {json.dumps(s.endpoints)}",
             f"prefix = {json.dumps(s.key_prefix(plan.release.name, plan.release.version))}"]
    if s.user is not None and s.password is not None:
        ref = f'env = "{s.password.env}"' if s.password.env else f'file = "{s.password.file}"'
        lines += [f"user = {json.dumps(s.user)}", f"password = {{ {ref} }}"]
    for field in ("ca_file", "cert_file", "key_file"):
        if (value := getattr(s, field)) is not None:
            lines.append(f"{field} = {json.dumps(str(value))}")
    return lines

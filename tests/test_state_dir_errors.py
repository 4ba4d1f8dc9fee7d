"""A state dir in the wrong shape, and the bastion's permission model: one line that says what
to do, never a traceback; a second Unix user acts only as a member of the state dir's group."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from cockpit.store.journal import Journal
from cockpit.store.verify import JOURNAL
from tests.conftest import ROOT
from tests.integration.rollout import plan_data, write_config
from tests.support import MemoryGateway, passing_runner

NOBODY = 65534
GROUP = 100  # Debian's `users`: stands for the bastion's `cockpit` group


def cockpit(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cockpit", *args], capture_output=True, text=True, cwd=ROOT,
                          stdin=subprocess.DEVNULL, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})


def config_at(base: Path, state_dir: Path) -> Path:
    data = plan_data({"type": "http", "url": "http://127.0.0.1:9/flags", "timeout": "1s"})
    data["state_dir"] = str(state_dir)
    return write_config(base / "plan.toml", data)


def one_line(res: subprocess.CompletedProcess, says: str) -> None:
    assert res.returncode == 2, res
    assert "Traceback" not in res.stderr and res.stderr.count("\n") <= 2, res.stderr
    assert says in res.stderr, res.stderr


@pytest.mark.parametrize("command", ["verify", "status", "run"])
def test_a_directory_where_the_journal_belongs_is_one_line(tmp_path, command):
    state_dir = tmp_path / "state"
    (state_dir / JOURNAL).mkdir(parents=True)
    config = config_at(tmp_path, state_dir)
    one_line(cockpit(command, "--config", str(config)), f"{state_dir / JOURNAL}: is a directory where a file belongs")


def test_a_directory_where_the_journal_belongs_does_not_stop_the_kill(tmp_path):
    """The kill needs no journal (DESIGN.md principle 7): it goes to the gateway (nothing listens at
    this plan's, so it is NOT CONFIRMED) and says what it could not record, in words and as lines."""
    state_dir = tmp_path / "state"
    (state_dir / JOURNAL).mkdir(parents=True)
    config = config_at(tmp_path, state_dir)
    res = cockpit("kill", "--config", str(config), "--reason", "x", "--confirm", "v0.1.0")
    assert res.returncode == 8 and "Traceback" not in res.stderr, res
    assert "KILL NOT CONFIRMED · 4 attempts: PUT http://127.0.0.1:9/flags" in res.stdout
    assert f"{state_dir / JOURNAL}: is a directory where a file belongs" in res.stderr
    assert "NOTHING RECORDED: neither the journal nor unjournaled.jsonl could take" in res.stderr
    lines = [json.loads(ln) for ln in res.stderr.splitlines() if ln.startswith("{")]
    assert [d["kind"] for d in lines] == ["kill_requested", "kill_result", "escalated"]
    assert list((state_dir / JOURNAL).iterdir()) == [] and not (state_dir / "unjournaled.jsonl").exists()


@pytest.mark.parametrize("command", ["verify", "status", "run"])
def test_a_file_where_the_state_dir_belongs_is_one_line(tmp_path, command):
    state_dir = tmp_path / "state"
    state_dir.write_text("not a dir")
    config = config_at(tmp_path, state_dir)
    res = cockpit(command, "--config", str(config))
    assert res.returncode == 2 and "Traceback" not in res.stderr and str(state_dir) in res.stderr, res


def test_a_read_only_state_dir_refuses_to_act_in_one_line(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a read-only tmpfs needs root")
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)]).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        state_dir = disk / "state"
        config = config_at(tmp_path, state_dir)
        from cockpit.clock import ManualClock
        from cockpit.config import load_plan
        from cockpit.core.events import Actor
        from cockpit.engine import Engine
        from tests.conftest import T0

        j = Journal(state_dir)
        Engine(load_plan(config), j, clock=ManualClock(T0), actor=Actor(user="a", host="b"),
               gateway=MemoryGateway(), check_runner=passing_runner()).ensure_plan()
        j.close()
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        one_line(cockpit("run", "--config", str(config)), "read-only file system")
        assert cockpit("verify", "--config", str(config)).returncode == 0  # reading still works
        assert cockpit("status", "--config", str(config)).returncode == 0
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=True)


# -- the bastion's permission model ----------------------------------------------------------------

_AS_USER = """
    import os, sys
    # everything the command loads, loaded while this interpreter's own files are still readable
    import asyncio, getpass, json, socket, traceback, tomllib, argparse, grp, errno, concurrent.futures
    import cockpit.cli, cockpit.headless, cockpit.engine, cockpit.config, cockpit.status, cockpit.narrate
    import cockpit.adapters.factory, cockpit.adapters.gateway_http, cockpit.adapters.gateway_haproxy
    import cockpit.adapters.prometheus, cockpit.clock, cockpit.core.state, cockpit.store.kept, cockpit.store.published, cockpit.store.locks
    import httpx, httpx._transports.default, queue, anyio, anyio._backends._asyncio, ssl, random
    uid, groups = int(sys.argv[1]), [int(g) for g in sys.argv[2].split(",") if g]
    os.setgroups(groups)
    os.setgid(groups[0] if groups else uid)
    os.setuid(uid)
    os.environ["USER"] = "nobody"
    sys.exit(cockpit.cli.main(sys.argv[3:]))
"""


def as_user(groups: list[int], *args: str) -> subprocess.CompletedProcess:
    """The CLI as a second Unix user (nobody), a member of `groups`."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(_AS_USER), str(NOBODY),
                           ",".join(map(str, groups)), *args], capture_output=True, text=True, cwd=ROOT,
                          stdin=subprocess.DEVNULL, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})


@pytest.fixture
def bastion():
    """A state dir as the README says an admin makes it: group `users`, setgid, group-writable."""
    if os.geteuid() != 0:
        pytest.skip("acting as a second Unix user needs root")
    base = Path(tempfile.mkdtemp(prefix="ckperm", dir="/tmp"))
    os.chmod(base, 0o755)
    state_dir = base / "state"
    state_dir.mkdir()
    os.chown(state_dir, 0, GROUP)
    os.chmod(state_dir, 0o2775)
    config = config_at(base, state_dir)
    os.chmod(config, 0o644)
    yield config, state_dir
    subprocess.run(["rm", "-rf", str(base)], check=True)


def test_files_follow_the_permission_model(bastion):
    _, state_dir = bastion
    Journal(state_dir).close()  # a writable open makes the lock and the head
    modes = {p.name: (stat.S_IMODE(p.stat().st_mode), p.stat().st_gid) for p in state_dir.iterdir()}
    assert modes["journal.lock"] == (0o660, GROUP)
    assert modes["journal.head"] == (0o664, GROUP)


def live_captain(config, state_dir):
    from cockpit.clock import ManualClock
    from cockpit.config import load_plan
    from cockpit.core.events import Actor
    from cockpit.engine import Engine
    from tests.conftest import T0
    from tests.test_engine import live

    engine = Engine(load_plan(config), Journal(state_dir), clock=ManualClock(T0), actor=Actor(user="root", host="b"),
                    gateway=MemoryGateway(), check_runner=passing_runner())
    engine.ensure_plan()
    live(engine, engine.clock)
    return engine


def test_a_second_user_outside_the_group_records_nothing_and_may_watch(bastion):
    """Outside the group nothing in the state dir is written; the kill still goes to the gateway
    with whatever credentials its user holds (the kill path needs no writable state dir: nothing
    listens at this plan's gateway, so it is NOT CONFIRMED, exit 8) and says why nothing is recorded."""
    config, state_dir = bastion
    live_captain(config, state_dir)
    assert stat.S_IMODE((state_dir / JOURNAL).stat().st_mode) == 0o664 and (state_dir / JOURNAL).stat().st_gid == GROUP
    before = (state_dir / JOURNAL).read_bytes()
    res = as_user([], "kill", "--config", str(config), "--reason", "spike", "--confirm", "v0.1.0")
    assert res.returncode == 8 and "Traceback" not in res.stderr, res
    assert "KILL NOT CONFIRMED · 4 attempts" in res.stdout
    assert res.stderr.startswith(f"STATE DIR NOT WRITABLE: {state_dir / 'journal.lock'}: permission denied (taking "
                                 "the journal's append lock): only members of group 'users'"), res.stderr
    assert "usermod -aG users $USER" in res.stderr and "NOTHING RECORDED" in res.stderr
    assert (state_dir / JOURNAL).read_bytes() == before and not (state_dir / "unjournaled.jsonl").exists()
    watched = as_user([], "status", "--config", str(config))
    assert watched.returncode == 0 and "status   LIVE" in watched.stdout, watched
    assert as_user([], "verify", "--config", str(config)).returncode == 0


def test_a_member_of_the_group_may_act(bastion):
    config, state_dir = bastion
    captain = live_captain(config, state_dir)
    res = as_user([GROUP], "kill", "--config", str(config), "--reason", "spike", "--confirm", "v0.1.0")
    # nothing listens at the plan's gateway: KILL NOT CONFIRMED, journaled by the second user
    assert res.returncode == 1 and "KILL NOT CONFIRMED · 4 attempts" in res.stdout, res
    seen = captain.refresh()
    assert [r.kind for r in seen][:2] == ["kill_requested", "kill_result"]
    assert {r.actor.user for r in seen} == {"nobody"}
    assert as_user([], "verify", "--config", str(config)).returncode == 0

"""Reading a plan: the TOML file, the journaled document, pydantic's errors as field lines, the state dir."""

from __future__ import annotations

import copy
import os
import stat
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from cockpit.config.errors import ConfigError
from cockpit.config.plan import Plan


def _loc(loc: tuple[Any, ...]) -> str:
    # Drop pydantic's union-branch tags (e.g. "command" in preflight.1.command.argv).
    return ".".join(str(part) for part in loc if not str(part).startswith("function-"))


def _describe(err: ErrorDetails) -> str:
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        msg = "unknown key"
    elif msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    return msg


def parse_plan(data: dict[str, Any]) -> Plan:
    try:
        return Plan.model_validate(data)
    except ValidationError as e:
        lines = []
        for err in e.errors():
            where = _loc(err["loc"])
            msg = _describe(err)
            if not where and "; " in msg:  # cross-field errors carry their own paths
                lines.extend(msg.split("; "))
            else:
                lines.append(f"{where}: {msg}" if where else msg)
        raise ConfigError(lines) from None


def parse_journaled_plan(document: dict[str, Any]) -> Plan:
    """The plan a journal carries, as this cockpit reads it. A journal written by an older cockpit
    may carry settings this one no longer knows: they are dropped (the chain vouches for the
    document, and nothing this cockpit does can depend on them); every other rule applies."""
    data = copy.deepcopy(document)
    for _ in range(64):
        try:
            return Plan.model_validate(data)
        except ValidationError as e:
            unknown = [err["loc"] for err in e.errors() if err["type"] == "extra_forbidden"]
            if not unknown or not all(_drop(data, loc) for loc in unknown):
                return parse_plan(data)  # a real problem: said field by field
    return parse_plan(data)


def _drop(data: Any, loc: tuple) -> bool:
    for key in loc[:-1]:
        try:
            data = data[key]
        except (KeyError, IndexError, TypeError):
            return False
    if isinstance(data, dict) and loc[-1] in data:
        del data[loc[-1]]
        return True
    return False


MAX_PLAN_BYTES = 1 << 20  # a plan is a few kilobytes; a megabyte is not a plan


def read_plan_text(path: Path) -> str:
    """The file's text, if it is a regular file of at most MAX_PLAN_BYTES of UTF-8.

    Opened without blocking, so a FIFO is refused instead of waited on; /dev/zero is not regular.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise ConfigError([f"{path}: cannot read: {e.strerror}"]) from None
    except UnicodeEncodeError:  # a lone surrogate: no file on this system has that name
        raise ConfigError([f"{path}: cannot read: not a file name this system can spell"]) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ConfigError([f"{path}: not a regular file"])
        raw = os.read(fd, MAX_PLAN_BYTES + 1)
        while len(raw) <= MAX_PLAN_BYTES and (more := os.read(fd, MAX_PLAN_BYTES + 1 - len(raw))):
            raw += more
    except OSError as e:
        raise ConfigError([f"{path}: cannot read: {e.strerror}"]) from None
    finally:
        os.close(fd)
    if len(raw) > MAX_PLAN_BYTES:
        raise ConfigError([f"{path}: larger than {MAX_PLAN_BYTES // 1024} KiB; a plan is a few kilobytes"])
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError([f"{path}: not UTF-8 text (byte {e.start})"]) from None


def load_plan(path: Path) -> Plan:
    """Read and validate a plan; errors are `FILE: field.path: message` lines."""
    text = read_plan_text(Path(path))
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError([f"{path}: TOML syntax: {e}"]) from None
    except RecursionError:
        raise ConfigError([f"{path}: TOML nested too deeply"]) from None
    try:
        return parse_plan(data)
    except RecursionError:
        raise ConfigError([f"{path}: nested too deeply"]) from None
    except ConfigError as e:
        raise ConfigError([f"{path}: {line}" for line in e.errors]) from None


def resolve_state_dir(plan: Plan, config_path: Path) -> Path:
    """A relative state_dir is relative to the config file, not to wherever the captain stands."""
    return plan.state_dir if plan.state_dir.is_absolute() else Path(config_path).parent / plan.state_dir

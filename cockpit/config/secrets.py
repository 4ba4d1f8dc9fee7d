"""Secrets named by reference (an environment variable or a file), read when needed and scrubbed."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from pydantic import field_validator, model_validator

from cockpit import redact
from cockpit.config.errors import ConfigError
from cockpit.config.fields import FilePath, Model


class SecretRef(Model):
    """A secret named by reference: an environment variable or a file. The value never lives in config."""

    env: str | None = None
    file: FilePath | None = None

    @field_validator("env")
    @classmethod
    def _a_variable(cls, name: str | None) -> str | None:
        if name is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ValueError(f"{name!r} is not an environment variable name")
        return name

    @field_validator("file", mode="before")
    @classmethod
    def _a_path(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            raise ValueError("an empty path names no file")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> SecretRef:
        if (self.env is None) == (self.file is None):
            raise ValueError("give exactly one of env or file")
        return self

    def describe(self) -> str:
        return f"env {self.env}" if self.env else f"file {self.file}"

    def resolve(self, field: str | None = None) -> str:
        """Read the secret now and remember it for scrubbing; the error names `field` (the
        config field, e.g. "prometheus.token") and where it looked, never a value."""
        where = f"{field}: secret" if field else "secret"
        if self.env:
            value = os.environ.get(self.env)
            if not value:
                raise ConfigError([f"{where}: environment variable {self.env} is not set"])
        else:
            try:
                value = Path(self.file).read_text().strip()  # type: ignore[arg-type]
            except (OSError, UnicodeDecodeError) as e:
                reason = getattr(e, "strerror", None) or "not text"
                raise ConfigError([f"{where}: cannot read file {self.file}: {reason}"]) from None
            if not value:
                raise ConfigError([f"{where}: file {self.file} is empty"])
        redact.remember(value)
        return value

"""Where the rollout's record lives: a file journal in state_dir (one bastion), or etcd (several)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from cockpit.config.fields import FilePath, Model, PositiveDuration
from cockpit.config.secrets import SecretRef
from cockpit.config.urls import _USE_TOKEN, _plain_url

_USE_PASSWORD = 'use user = "..." and password = { env = "VARIABLE" } (or { file = "..." })'
_PREFIX = re.compile(r"^(/[A-Za-z0-9._-]+)+$")  # /cockpit/intelgraph/v0.1.0: no empty, dot-only or spaced segment


class StateStore(Model):
    """`[state]`: the journal, the guard lease, the captain lock and the published round. `file` (the
    default) keeps them in state_dir; `etcd` keeps them on an etcd cluster, so the guard survives
    losing its bastion. guard.log, evidence and events kept aside stay in state_dir either way."""

    store: Literal["file", "etcd"] = "file"
    endpoints: list[Annotated[str, Field(min_length=1)]] = []  # etcd client URLs, tried in order
    prefix: str | None = None  # every key lives under it; default /cockpit/<release>/<version>
    lease_ttl: PositiveDuration | None = None  # the guard lease; default 3 polls, at least 10s
    timeout: PositiveDuration = timedelta(seconds=2)  # one etcd request
    user: str | None = None  # etcd's auth: the user whose role may write (captain, guard) or only read
    password: SecretRef | None = None
    ca_file: FilePath | None = None  # TLS: the CA that signed the members' certificates
    cert_file: FilePath | None = None  # TLS client certificate (etcd's --client-cert-auth)
    key_file: FilePath | None = None

    @field_validator("endpoints")
    @classmethod
    def _plain(cls, urls: list[str]) -> list[str]:
        for url in urls:
            try:
                _plain_url(url)
            except ValueError as e:  # etcd's credential is the user's password, not a token
                raise ValueError(str(e).replace(_USE_TOKEN, _USE_PASSWORD)) from None
        return urls

    @field_validator("prefix")
    @classmethod
    def _a_prefix(cls, prefix: str | None) -> str | None:
        if prefix is not None and (not _PREFIX.match(prefix) or any(s in (".", "..") for s in prefix.split("/"))):
            raise ValueError(f"{prefix!r} is not a key prefix like \"/cockpit/intelgraph/v0.1.0\" "
                             "(segments of letters, digits, '.', '_' or '-', no trailing '/')")
        return prefix

    @model_validator(mode="after")
    def _complete(self) -> StateStore:
        if self.store == "etcd" and not self.endpoints:
            raise ValueError('store = "etcd" needs endpoints = ["http://host:2379", ...]')
        if self.store == "file":
            given = [k for k in ("endpoints", "prefix", "lease_ttl", "user", "password", "ca_file", "cert_file",
                                 "key_file") if getattr(self, k)]
            if given:
                raise ValueError(f'{", ".join(given)}: only for store = "etcd"')
        if (self.user is None) != (self.password is None):
            raise ValueError("give both user and password (etcd's auth), or neither")
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("give both cert_file and key_file (TLS client certificate), or neither")
        tls = self.ca_file or self.cert_file
        if tls and any(u.startswith("http://") for u in self.endpoints):
            raise ValueError("TLS files are given but an endpoint is http://: use https:// endpoints")
        return self

    def key_prefix(self, release: str, version: str) -> str:
        return self.prefix or f"/cockpit/{_segment(release)}/{_segment(version)}"

    def ttl(self, poll: timedelta) -> timedelta:
        """The guard lease: three polls (a round may run late twice), never under 10s."""
        return self.lease_ttl or max(3 * poll, timedelta(seconds=10))


def _segment(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", text) or "_"

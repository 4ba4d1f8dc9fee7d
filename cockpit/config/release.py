"""The release being rolled out and the roles that sign it off."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

from cockpit.config.fields import Model, Name


def _version(value: str) -> str:
    """The version is typed to confirm the kill: it must be exactly what an operator can type."""
    if not value:
        raise ValueError("must not be empty (the kill switch is confirmed by typing it)")
    if value != value.strip():
        raise ValueError(f"{value!r} has leading or trailing whitespace (the kill could never be confirmed)")
    return value  # (and plain characters only: the version is a Name)


class Release(Model):
    name: Name
    version: Annotated[Name, AfterValidator(_version)]
    environment: Name
    region: Name
    data_residency: Name = ""
    chatops: str = ""  # the authorising ChatOps line, checked against this plan


class Role(Model):
    title: Name
    people: list[Name] = []
    contact: Name = ""

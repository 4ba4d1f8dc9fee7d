"""cockpit: a terminal release cockpit for progressive canary rollouts."""

__version__ = "0.1.0"  # the one place it is written: pyproject.toml reads it, `cockpit --version` says it

"""Adapters at the edge: metrics, gateways, preflight checks and the simulated world."""

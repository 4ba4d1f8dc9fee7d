"""cockpit: a terminal release cockpit for progressive canary rollouts."""

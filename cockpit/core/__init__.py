"""The pure rollout core: events, the state fold and the rules. No I/O, no clock, no Textual."""

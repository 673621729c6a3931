"""Servers (instances): their records, state machine, actions, faults, metadata and groups."""

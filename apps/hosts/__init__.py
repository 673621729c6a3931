"""Compute hosts: services (liveness), compute nodes (hypervisor facts) and aggregates."""

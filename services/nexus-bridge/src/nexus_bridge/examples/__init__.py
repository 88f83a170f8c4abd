"""Example strategies for `nexus-bridge run --strategy ...`."""

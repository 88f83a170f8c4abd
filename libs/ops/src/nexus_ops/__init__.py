"""Operator tooling for NEXUS mesh: `nexusctl` and what it runs (the local supervisor, the demo) and
reads (status, positions, replay, export, report, dashboard, tally, ACL users, image builds).

It stands on the runtime (`nexus_mesh`) and the protocol, never the other way: no runtime package
imports it, and it imports no service package. Each module reads the mesh only through Redis and
the names of `nexus_protocol.streams.Names`. Data gathering is separate from rendering, so tests
check the numbers and the CLI only prints them.
"""

"""Operator tooling behind `nexusctl`: status, positions, replay, export, report, dashboard, ACL users.

Each module reads the mesh only through Redis and the names of `nexus_protocol.streams.Names`; none
imports a service package (dependencies point one way: protocol <- mesh <- services). Data
gathering is separate from rendering, so tests check the numbers and the CLI only prints them.
"""

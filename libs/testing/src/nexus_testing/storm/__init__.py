"""The storm's parts that need no mesh (tests/chaos/storm runs them against one): a TCP proxy that
cuts and hangs platform links on cue (`proxy`), a seeded nemesis plan (`nemesis`), and a history
checker over what the platforms' simulators recorded and what the mesh published (`history`,
`checker`, `report`)."""

"""A simulated Template platform over `nexus_sim`: the platform's side of the link, in its own process,
for the tests, the demo and `nexusctl up` in dev (decision 0021). It speaks the platform's real wire
format and models what the platform documents (and says what it assumes), so the adapter under test is
the one that runs in production."""

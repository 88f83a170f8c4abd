"""A simulated venue: the adapter base over nexus_sim's market and matching engine."""

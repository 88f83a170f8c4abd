"""NEXUS side: client API, signal filters, duplicate prevention, circuit breakers, strategy host."""

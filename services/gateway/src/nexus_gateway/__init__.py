"""Router with pre-trade risk, normalizer, FX, rollover, fill aggregator, simulated venue."""

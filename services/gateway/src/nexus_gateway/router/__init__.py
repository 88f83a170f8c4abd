"""The router: one signal in, one order per venue out, after authoritative pre-trade risk."""

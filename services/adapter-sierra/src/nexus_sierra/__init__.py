"""Sierra Chart adapter over the DTC protocol, with a DTC server simulator."""

"""NinjaTrader 8 and Quantower adapter: TCP bridge server, ATI/OIF fallback, platform simulators."""

"""Signals from beyond NEXUS: an HTTP(S) ingress (webhooks, TradingView alerts) into the bridge
intake, with a bearer token and a rate limit per source and the caller's idempotency key as the
signal id. See docs/ingress.md.
"""

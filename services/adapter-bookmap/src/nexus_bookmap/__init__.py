"""Bookmap adapter: WebSocket server and the Bookmap Python add-on."""

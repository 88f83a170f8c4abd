"""MetaTrader 5 adapter (MetaTrader5 on Windows, mt5linux elsewhere) and terminal simulator."""

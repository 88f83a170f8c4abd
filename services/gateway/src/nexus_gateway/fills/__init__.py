"""The fill aggregator: every leg of a signal into one execution report; positions and P&L."""

"""A small momentum strategy: `nexus-bridge run --strategy nexus_bridge.examples.momentum:strategy`.

It keeps the last `lookback` prices per symbol and signals when the price has moved at least
`threshold_points` across them: up buys, down sells. After a signal the window starts again, so one
move gives one signal. Parameters: `--param lookback=5 --param threshold_points=5 ...`.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Any

from nexus_bridge.host import StrategySignal

log = logging.getLogger(__name__)


class Momentum:
    def __init__(
        self,
        lookback: int = 5,
        threshold_points: float = 5.0,
        quantity: float = 1.0,
        confidence: float = 0.8,
        mqscore: float = 0.8,
        noise: float = 0.2,
    ) -> None:
        self.lookback = lookback
        self.threshold_points = threshold_points
        self.quantity = quantity
        self.confidence = confidence
        self.mqscore = mqscore
        self.noise = noise
        self.prices: dict[str, deque[float]] = {}
        self.executions: list[dict[str, Any]] = []

    def configure(self, **params: str) -> None:
        """Set parameters from text (`--param name=value`), each converted to its current type."""
        for name, text in params.items():
            current = getattr(self, name, None)
            if current is None or name in ("prices", "executions"):
                raise ValueError(f"momentum has no parameter {name!r}")
            setattr(self, name, type(current)(text))
        self.prices.clear()

    def __call__(self, tick: dict[str, Any]) -> list[StrategySignal]:
        price = tick.get("price")
        if price is None:
            return []
        symbol = str(tick["symbol"])
        window = self.prices.setdefault(symbol, deque(maxlen=max(2, self.lookback)))
        window.append(float(price))
        move = window[-1] - window[0]
        if len(window) < 2 or abs(move) < self.threshold_points:
            return []
        window.clear()
        window.append(float(price))
        side = "BUY" if move > 0 else "SELL"
        return [
            StrategySignal(
                symbol=symbol,
                side=side,
                quantity=self.quantity,
                confidence=self.confidence,
                mqscore={"composite": self.mqscore, "noise_level": self.noise},
                reference_price=float(price),
            )
        ]

    def on_execution(self, execution: dict[str, Any]) -> None:
        self.executions.append(execution)
        log.info(
            "momentum execution %s %s: %s, filled %s at %s (final %s)",
            execution["symbol"],
            execution["signal_id"],
            execution["status"],
            execution["filled_quantity"],
            execution["avg_price"],
            execution["final"],
        )


strategy = Momentum()

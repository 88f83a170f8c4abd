"""The two payloads the ingress accepts, as models whose JSON Schema is the OpenAPI spec, pure.

- `SignalRequest`: the mesh's own signal JSON (the `Signal` fields, `side` in lower case), plus an
  optional `idempotency_key`; a `signal_id` is taken as the idempotency key.
- `TradingViewAlert`: what a TradingView alert message renders to. Placeholders such as
  `{{strategy.order.contracts}}` render as text, so numbers may come as strings ("1", "18250.25").
  `market_position` = `flat` (`{{strategy.market_position}}` after the order) marks the order as
  closing a position (reduce_only: it passes while risk blocks new exposure).

Both refuse unknown fields (a typo such as `contract` for `contracts` must not be dropped silently)
and report every problem with the field's name (`FieldProblem`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, WithJsonSchema

KEY_PATTERN = r"^[\x21-\x7e]([\x20-\x7e]{0,253}[\x21-\x7e])?$"  # printable ASCII, no edge blanks
_POSITIVE_TEXT = r"^(0*[1-9][0-9]{0,11}(\.[0-9]{1,12})?|0*\.[0-9]{0,11}[1-9][0-9]{0,11})$"
_NAME = r"^[A-Za-z0-9_.:-]{1,32}$"
_STRICT = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


@dataclass(frozen=True, slots=True)
class FieldProblem:
    field: str  # dotted path in the payload: `contracts`, `venues.0`
    message: str


class PayloadError(ValueError):
    """The payload cannot become a signal; `problems` name each field."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))

    @classmethod
    def one(cls, field: str, message: str) -> PayloadError:
        return cls([FieldProblem(field, message)])


def _number(value: Any) -> Any:
    """TradingView renders numbers as text: "1", " 0.5 " become floats; anything else is left to
    the type check (which names the field)."""
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return value
        return number if math.isfinite(number) else value
    return value


Positive = Annotated[
    float,
    BeforeValidator(_number),
    Field(gt=0, le=1e12),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "exclusiveMinimum": 0, "maximum": 1e12},
                {"type": "string", "pattern": _POSITIVE_TEXT},
            ]
        }
    ),
]
Key = Annotated[str, Field(pattern=KEY_PATTERN, max_length=255)]
Name = Annotated[str, Field(pattern=_NAME)]
Side = Literal["buy", "sell"]
OrderType = Literal["market", "limit", "stop"]
Tif = Literal["day", "gtc", "ioc", "fok"]
Position = Literal["long", "short", "flat"]


class SignalRequest(BaseModel):
    """A signal in the mesh's own terms."""

    model_config = _STRICT

    symbol: Annotated[str, Field(min_length=1, max_length=40)]  # a root (NQ), NQ1!, NQH25
    side: Side
    quantity: Annotated[float, Field(gt=0, le=1e12)]
    order_type: OrderType = "market"
    limit_price: Annotated[float, Field(gt=0)] | None = None
    stop_price: Annotated[float, Field(gt=0)] | None = None
    time_in_force: Tif = "day"
    reference_price: Annotated[float, Field(gt=0)] | None = None
    stop_loss: Annotated[float, Field(gt=0)] | None = None  # risk sizing's distance from the entry
    confidence: Annotated[float, Field(ge=0, le=1)] | None = None
    mqscore: float | None = None
    noise: float | None = None
    strategy: Annotated[str, Field(max_length=64)] = ""
    venues: Annotated[list[Name], Field(max_length=16)] = []
    reduce_only: bool = False
    contract: Annotated[str, Field(pattern=r"^[A-Z0-9]{1,8}[FGHJKMNQUVXZ][0-9]{2}$")] | None = None
    signal_id: Key | None = None
    idempotency_key: Key | None = None

    def key(self) -> str | None:
        return self.idempotency_key or self.signal_id


class TradingViewAlert(BaseModel):
    """A TradingView alert message (docs/ingress.md has the template)."""

    model_config = _STRICT

    ticker: Annotated[str, Field(min_length=1, max_length=64)]  # {{ticker}} or {{exchange}}:{{ticker}}
    action: Side  # {{strategy.order.action}}
    contracts: Positive  # {{strategy.order.contracts}}
    price: Positive | None = None  # {{strategy.order.price}} or {{close}}: the reference price
    order_type: OrderType = "market"
    limit_price: Positive | None = None
    stop_price: Positive | None = None
    stop_loss: Positive | None = None  # the strategy's stop: what risk sizing measures the distance to
    market_position: Position | None = None  # {{strategy.market_position}}: flat closes
    prev_market_position: Position | None = None  # {{strategy.prev_market_position}}
    position_size: Annotated[float, BeforeValidator(_number)] | None = None  # {{strategy.position_size}}
    order_id: Annotated[str, Field(max_length=64)] | None = None  # {{strategy.order.id}}
    comment: Annotated[str, Field(max_length=256)] | None = None  # {{strategy.order.comment}}
    strategy: Annotated[str, Field(max_length=64)] | None = None
    confidence: Annotated[float, BeforeValidator(_number), Field(ge=0, le=1)] | None = None
    venues: Annotated[list[Name], Field(max_length=16)] = []
    exchange: Annotated[str, Field(max_length=32)] | None = None  # {{exchange}}
    interval: Annotated[str, Field(max_length=16)] | None = None  # {{interval}}
    time: Annotated[str, Field(max_length=40)] | None = None  # {{timenow}}
    idempotency_key: Key | None = None
    token: Annotated[str, Field(max_length=256)] | None = None  # TradingView cannot send headers

    def key(self) -> str | None:
        return self.idempotency_key


def problems_of(exc: ValidationError) -> list[FieldProblem]:
    out = []
    for err in exc.errors(include_url=False):
        field = ".".join(str(p) for p in err["loc"]) or "(body)"
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = "unknown field"
        elif err["type"] == "literal_error":
            message = f"{message} (got {err.get('input')!r})"
        out.append(FieldProblem(field, message))
    return out


def parse(model: type[BaseModel], body: Any) -> Any:
    """The payload as `model`, or PayloadError naming every bad field."""
    if not isinstance(body, dict):
        raise PayloadError.one("(body)", "want a JSON object")
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise PayloadError(problems_of(exc)) from None

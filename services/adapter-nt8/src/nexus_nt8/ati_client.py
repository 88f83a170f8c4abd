"""NinjaTrader's ATI, the link of the degraded NinjaTrader path: order instruction files (OIF) in,
state files out (`OifFolder`, any host that sees the folder), or NinjaTrader.Client.dll through
pythonnet (`DllTransport`, Windows only); both behind `AtiTransport`.

The formats (NinjaTrader 8 help, "Order Instruction Files" and "Information Update Files"):
- incoming, `oif*.txt`, one command per line, 13 `;`-separated fields: `PLACE;ACCOUNT;INSTRUMENT;
  ACTION;QTY;ORDER TYPE;LIMIT PRICE;STOP PRICE;TIF;OCO ID;ORDER ID;STRATEGY;STRATEGY ID` and
  `CANCEL;;;;;;;;;;ORDER ID;;[STRATEGY ID]`;
- outgoing, `{ORDER ID}.txt`: `STATE;FILLED QTY;AVG FILL PRICE` (only for orders given an ORDER ID);
- outgoing, `{INSTRUMENT} {EXCHANGE}_{ACCOUNT}_Position.txt` (also read without the exchange part,
  `{INSTRUMENT} {ACCOUNT}_Position.txt`): `LONG|SHORT|FLAT;QTY;AVG PRICE`.
Guarantees of `OifFolder`: a command file appears complete or not at all (written under another name
on the same file system, flushed, then renamed to `oif*.txt`), and the place file of an order has a
name derived from its ORDER ID (our client order id), so writing it twice replaces it instead of
placing twice, and "still waiting in incoming" is a question with an answer. State files are read
defensively: a half-written or unknown one reads as "no news", never as a state.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from nexus_protocol.enums import OrderStatus
from nexus_protocol.errors import ConfigError

FIELDS = 13
POSITION_SUFFIX = "_Position.txt"

# NinjaTrader OrderState names (any case) -> mesh status; None: a state the adapter does not report.
NT_STATES: dict[str, OrderStatus] = {
    "INITIALIZED": OrderStatus.PENDING, "SUBMITTED": OrderStatus.PENDING,
    "ACCEPTED": OrderStatus.ACCEPTED, "WORKING": OrderStatus.ACCEPTED, "TRIGGERPENDING": OrderStatus.ACCEPTED,
    "CHANGEPENDING": OrderStatus.ACCEPTED, "CHANGESUBMITTED": OrderStatus.ACCEPTED,
    "CANCELPENDING": OrderStatus.ACCEPTED, "CANCELSUBMITTED": OrderStatus.ACCEPTED,
    "PARTFILLED": OrderStatus.PARTIALLY_FILLED, "FILLED": OrderStatus.FILLED,
    "CANCELLED": OrderStatus.CANCELLED, "CANCELED": OrderStatus.CANCELLED, "REJECTED": OrderStatus.REJECTED,
}  # fmt: skip


@dataclass(frozen=True, kw_only=True, slots=True)
class PlaceCommand:
    account: str
    instrument: str
    action: str  # BUY | SELL
    quantity: int
    order_type: str  # MARKET | LIMIT | STOPMARKET
    limit_price: float | None
    stop_price: float | None
    tif: str  # DAY | GTC
    order_id: str


@dataclass(frozen=True, slots=True)
class AtiState:
    status: OrderStatus
    filled: int
    avg_price: float
    raw: str


def price_text(value: float | None) -> str:
    """A decimal with '.', never an exponent ('1212.25', not '1212,25' or '1.21225e3')."""
    if value is None:
        return ""
    text = format(Decimal(repr(float(value))), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def place_line(cmd: PlaceCommand) -> str:
    return ";".join(
        [
            "PLACE",
            cmd.account,
            cmd.instrument,
            cmd.action,
            str(cmd.quantity),
            cmd.order_type,
            price_text(cmd.limit_price),
            price_text(cmd.stop_price),
            cmd.tif,
            "",
            cmd.order_id,
            "",
            "",
        ]
    )


def cancel_line(order_id: str) -> str:
    return ";".join(["CANCEL", *[""] * 9, order_id, "", ""])


def parse_line(line: str) -> tuple[str, list[str]]:
    """(COMMAND, fields padded to 13) of one OIF line; ValueError when it is not one."""
    fields = line.strip().split(";")
    if not fields[0] or len(fields) > FIELDS:
        raise ValueError(f"not an OIF line: {line!r}")
    fields += [""] * (FIELDS - len(fields))
    return fields[0].upper(), fields


def place_from_fields(fields: list[str]) -> PlaceCommand:
    def price(text: str) -> float | None:
        return float(text) if text.strip() else None

    return PlaceCommand(
        account=fields[1],
        instrument=fields[2],
        action=fields[3].upper(),
        quantity=int(fields[4]),
        order_type=fields[5].upper(),
        limit_price=price(fields[6]),
        stop_price=price(fields[7]),
        tif=fields[8].upper(),
        order_id=fields[10],
    )


def parse_state(text: str) -> AtiState | None:
    parts = text.strip().split(";")
    if len(parts) != 3:
        return None
    status = NT_STATES.get(parts[0].strip().upper())
    try:
        filled, avg = int(float(parts[1])), float(parts[2] or 0)
    except ValueError:
        return None
    return None if status is None else AtiState(status, filled, avg, text.strip())


def state_text(state: str, filled: int, avg: float) -> str:
    return f"{state};{filled};{price_text(avg) if filled else '0'}"


def parse_position(text: str) -> float | None:
    """Signed quantity of a position file, or None when unreadable."""
    parts = text.strip().split(";")
    if len(parts) < 2:
        return None
    side = parts[0].strip().upper()
    try:
        qty = float(parts[1])
    except ValueError:
        return None
    return {"LONG": qty, "SHORT": -qty, "FLAT": 0.0}.get(side)


def position_name(instrument: str, account: str, exchange: str = "Globex") -> str:
    return f"{instrument} {exchange}_{account}{POSITION_SUFFIX}"


def parse_position_name(name: str) -> tuple[str, str] | None:
    """(instrument, account) from a position file name, with or without the exchange part."""
    if not name.endswith(POSITION_SUFFIX):
        return None
    stem = name[: -len(POSITION_SUFFIX)]
    if "_" in stem:
        head, account = stem.rsplit("_", 1)
        tokens = head.split(" ")
        instrument = " ".join(tokens[:-1]) if len(tokens) >= 3 else head  # "NQ 03-25 Globex" -> "NQ 03-25"
    elif " " in stem:
        instrument, account = stem.rsplit(" ", 1)
    else:
        return None
    return instrument, account


def write_atomic(path: Path, text: str, tmp_dir: Path) -> None:
    tmp_dir.mkdir(parents=True, exist_ok=True)
    tmp = tmp_dir / f".{path.name}.{os.getpid()}.{time.monotonic_ns()}.tmp"
    with tmp.open("w", encoding="utf-8", newline="\r\n") as f:
        f.write(text if text.endswith("\n") else text + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class OifFolder:
    """The ATI transport on any host that sees NinjaTrader's user folder (`incoming/`, `outgoing/`)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.incoming = root / "incoming"
        self.outgoing = root / "outgoing"
        self.tmp = root / "nexus-tmp"  # same file system as incoming: the rename is atomic

    def __repr__(self) -> str:
        return f"OifFolder({self.root})"

    def check(self) -> None:
        for d in (self.incoming, self.outgoing):
            if not d.is_dir():
                raise FileNotFoundError(f"{d} is not a folder (is NX_NT8_ATI_DIR NinjaTrader's user folder?)")

    def connected(self) -> bool:
        return self.incoming.is_dir() and self.outgoing.is_dir()

    def place(self, cmd: PlaceCommand) -> None:
        write_atomic(self._place_file(cmd.order_id), place_line(cmd), self.tmp)

    def cancel(self, order_id: str) -> None:
        write_atomic(
            self.incoming / f"oifnx-{order_id}-cancel-{time.time_ns()}.txt", cancel_line(order_id), self.tmp
        )

    def pending(self, order_id: str) -> bool:
        return self._place_file(order_id).exists()

    def order_state(self, order_id: str) -> AtiState | None:
        try:
            return parse_state((self.outgoing / f"{order_id}.txt").read_text(encoding="utf-8-sig"))
        except (OSError, UnicodeDecodeError):
            return None

    def positions(self, account: str) -> dict[str, float]:
        out: dict[str, float] = {}
        for path in self.outgoing.glob(f"*{POSITION_SUFFIX}"):
            named = parse_position_name(path.name)
            if named is None or named[1] != account:
                continue
            try:
                qty = parse_position(path.read_text(encoding="utf-8-sig"))
            except (OSError, UnicodeDecodeError):
                continue
            if qty:
                out[named[0]] = qty
        return out

    def _place_file(self, order_id: str) -> Path:
        return self.incoming / f"oifnx-{order_id}-place.txt"


class AtiTransport(Protocol):
    def check(self) -> None: ...
    def connected(self) -> bool: ...
    def place(self, cmd: PlaceCommand) -> None: ...
    def cancel(self, order_id: str) -> None: ...
    def pending(self, order_id: str) -> bool: ...
    def order_state(self, order_id: str) -> AtiState | None: ...
    def positions(self, account: str) -> dict[str, float]: ...


class DllTransport:
    """NinjaTrader.Client.dll (`Client`: Command, OrderStatus, Filled, AvgFillPrice, MarketPosition)."""

    def __init__(self, dll: Path) -> None:
        if sys.platform != "win32":
            raise ConfigError("NX_NT8_MODE=dll needs Windows and NinjaTrader.Client.dll; use oif elsewhere")
        self._dll: Path = dll
        self._client: Any = None
        self._instruments: set[str] = set()

    def check(self) -> None:
        if self._client is None:
            clr: Any = importlib.import_module("clr")  # pythonnet
            clr.AddReference(str(self._dll))
            self._client = importlib.import_module("NinjaTrader.Client").Client()
        if self._client.Connected(0) != 0:
            raise ConnectionError("NinjaTrader's ATI is not connected (Tools > Options > ATI enabled?)")

    def connected(self) -> bool:
        return self._client is not None and self._client.Connected(0) == 0

    def place(self, c: PlaceCommand) -> None:
        self._instruments.add(c.instrument)
        if (
            self._client.Command(
                "PLACE",
                c.account,
                c.instrument,
                c.action,
                c.quantity,
                c.order_type,
                c.limit_price or 0.0,
                c.stop_price or 0.0,
                c.tif,
                "",
                c.order_id,
                "",
                "",
            )
            != 0
        ):
            raise ConnectionError(f"ATI Command PLACE {c.order_id} returned an error")

    def cancel(self, order_id: str) -> None:
        if self._client.Command("CANCEL", "", "", "", 0, "", 0.0, 0.0, "", "", order_id, "", "") != 0:
            raise ConnectionError(f"ATI Command CANCEL {order_id} returned an error")

    def pending(self, order_id: str) -> bool:
        return False

    def order_state(self, order_id: str) -> AtiState | None:
        text = str(self._client.OrderStatus(order_id) or "")
        status = NT_STATES.get(text.strip().upper())
        if status is None:
            return None
        return AtiState(
            status, int(self._client.Filled(order_id)), float(self._client.AvgFillPrice(order_id)), text
        )

    def positions(self, account: str) -> dict[str, float]:
        out = {i: float(self._client.MarketPosition(i, account)) for i in sorted(self._instruments)}
        return {i: q for i, q in out.items() if q}

"""The valid messages and the numbers of ``vectors.json`` (built by ``bridge_vectors.py``).

Chosen to cover every message type, every wire kind (nulls, empty lists, records, escapes,
non-ASCII, astral characters, int64 extremes) and the float spellings that trip implementations up:
exponent thresholds, subnormals, powers of two where the shortest decimal lies on the wide side.
"""

from __future__ import annotations

import struct

from nexus_protocol.bridge.messages import (
    PROTOCOL_VERSION,
    AccountSnapshot,
    BridgeErrorCode,
    BridgeHeartbeat,
    BridgeMessage,
    BridgeTick,
    ErrorMessage,
    ExecutionRecord,
    ExecutionUpdate,
    Hello,
    HelloAck,
    MdSubscribe,
    MdUnsubscribe,
    OpenOrdersQuery,
    OpenOrdersSnapshot,
    OrderCancel,
    OrderSubmit,
    OrderUpdate,
    Platform,
    PositionRecord,
    PositionSnapshot,
    WorkingOrder,
)
from nexus_protocol.enums import OrderStatus, OrderType, Side, TimeInForce

T0 = 1_767_225_600_123_456_789  # 2026-01-01T00:00:00.123456789Z
COID = "01JGZ8Y5E3V7Q2M4N6P8R0S2T4.N80"  # the shape docs/design.md derives: ULID + "." + venue + attempt

NUMBERS = [
    0.1,
    16250.75,
    1e-7,
    123456789.123,
    0.30000000000000004,
    1 / 3,
    -16250.25,
    100.0,
    1.0,
    2.5,
    5432.25,
    1.08345,
    0.00001234,
    98765.4321,
    1e-6,
    1.5e-7,
    1e20,
    1e21,
    1e23,
    123e-20,
    2.0**53,
    2.0**53 + 2,
    9007199254740993.0,
    1234567890123456789.0,
    5e-324,
    3 * 5e-324,
    2.2250738585072014e-308,
    1.7976931348623157e308,
    2.0**-24,
    2.0**-44,
    2.0**89,
    2.0**-1017,
    4.35,
    0.000123,
    -0.0,
    0.0,
]
NUMBER_READS = [
    "1.625075E4",
    "16250.750000",
    "0.1e1",
    "1E-7",
    "-0.0",
    "0",
    "9007199254740993",
    "2.4703282292062327e-324",
    "2.4703282292062328e-324",
    "1.7976931348623158e308",
    "1e-400",
    "0.000000000000000000000000000001",
    "123456789012345678901234567890",
    "7.1202363472230444e-307",
    "1.00000000000000011102230246251565404",
]


def bits(value: float) -> str:
    return struct.pack(">d", value).hex()


def frame(
    body: bytes | str, *, version: int = PROTOCOL_VERSION, flags: int = 0, length: int | None = None
) -> bytes:
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    return struct.pack(">2sBBI", b"NX", version, flags, len(raw) if length is None else length) + raw


def _messages() -> list[tuple[str, BridgeMessage]]:
    exe = {
        "execution_id": "EX-20260101-000417",
        "account": "Sim101",
        "client_order_id": COID,
        "platform_order_id": "a1b2c3d4e5f6",
        "instrument": "NQ 03-25",
        "side": Side.BUY,
        "quantity": 2,
        "price": 16250.75,
        "commission": 4.3,
        "time_ns": T0 + 1_000,
    }
    order = {
        "client_order_id": COID,
        "platform_order_id": "a1b2c3d4e5f6",
        "account": "Sim101",
        "instrument": "NQ 03-25",
        "side": Side.BUY,
        "quantity": 3,
        "order_type": OrderType.LIMIT,
        "limit_price": 16250.75,
        "time_in_force": TimeInForce.DAY,
        "status": OrderStatus.PARTIALLY_FILLED,
        "filled_quantity": 2,
        "avg_fill_price": 16250.75,
    }
    submit = {"account": "Sim101", "instrument": "NQ 03-25", "quantity": 1, "time_in_force": TimeInForce.DAY}
    return [
        (
            "hello_nt8",
            Hello(
                platform=Platform.NT8,
                platform_version="8.1.4.1",
                accounts=["Sim101", "APEX-4417-02"],
                auth_token="s3cr3t-token",
            ),
        ),
        (
            "hello_quantower_escapes",
            Hello(
                platform=Platform.QUANTOWER,
                platform_version="1.143.12",
                accounts=["Rithmic: Ap\u00e9x \u20ac"],
                auth_token='q"b\\s/\n\t\r\b\f\u0001\u001f\u007f\u2028\U0001f600',
            ),
        ),
        ("hello_ack_accepted", HelloAck(accepted=True, heartbeat_interval_ms=5_000)),
        ("hello_ack_refused", HelloAck(accepted=False, reason="bad auth token", heartbeat_interval_ms=5_000)),
        ("heartbeat", BridgeHeartbeat(time_ns=T0)),
        (
            "error_full",
            ErrorMessage(
                code=BridgeErrorCode.UNKNOWN_ORDER,
                message="no order named it",
                ref_seq=7,
                client_order_id=COID,
            ),
        ),
        ("error_minimal", ErrorMessage(code=BridgeErrorCode.PLATFORM_DISCONNECTED, message="")),
        (
            "order_submit_market",
            OrderSubmit(client_order_id=COID, side=Side.BUY, order_type=OrderType.MARKET, **submit),
        ),
        (
            "order_submit_limit",
            OrderSubmit(
                client_order_id="x" * 50,
                side=Side.SELL,
                order_type=OrderType.LIMIT,
                limit_price=16250.75,
                **submit,
            ),
        ),
        (
            "order_submit_stop_gtc",
            OrderSubmit(
                client_order_id="!~",
                side=Side.SELL,
                order_type=OrderType.STOP,
                stop_price=5432.25,
                **{**submit, "quantity": 2147483647, "time_in_force": TimeInForce.GTC},
            ),
        ),
        ("order_cancel", OrderCancel(client_order_id=COID)),
        (
            "order_update_accepted",
            OrderUpdate(
                client_order_id=COID,
                account="Sim101",
                status=OrderStatus.ACCEPTED,
                filled_quantity=0,
                time_ns=T0,
            ),
        ),
        (
            "order_update_partial",
            OrderUpdate(
                client_order_id=COID,
                account="Sim101",
                platform_order_id="a1b2c3d4e5f6",
                status=OrderStatus.PARTIALLY_FILLED,
                filled_quantity=3,
                avg_fill_price=16250.333333333334,
                time_ns=T0 + 1,
            ),
        ),
        (
            "order_update_rejected",
            OrderUpdate(
                client_order_id="Entry",
                account="Sim101",
                status=OrderStatus.REJECTED,
                filled_quantity=0,
                reason="Order rejected: \u00abinsufficient margin\u00bb",
                time_ns=0,
            ),
        ),
        ("execution_update", ExecutionUpdate(**exe)),
        (
            "execution_update_manual",
            ExecutionUpdate(
                **{
                    **exe,
                    "client_order_id": "",
                    "side": Side.SELL,
                    "price": 0.1,
                    "commission": 0.0,
                    "quantity": 1,
                }
            ),
        ),
        (
            "position_snapshot",
            PositionSnapshot(
                account="Sim101",
                positions=[
                    PositionRecord(instrument="NQ 03-25", quantity=2, avg_price=16250.75),
                    PositionRecord(instrument="CL 02-25", quantity=-9223372036854775808, avg_price=-37.63),
                ],
                time_ns=T0,
            ),
        ),
        ("position_snapshot_flat", PositionSnapshot(account="Sim101", positions=[], time_ns=T0)),
        (
            "account_snapshot",
            AccountSnapshot(
                account="Sim101",
                currency="USD",
                cash=123456789.123,
                realized_pnl=-1250.5,
                unrealized_pnl=16250.75,
                time_ns=T0,
            ),
        ),
        (
            "open_orders_query",
            OpenOrdersQuery(
                request_id="r-1",
                accounts=["Sim101"],
                client_order_ids=[COID, "B.N81"],
                since_execution_id="EX-20260101-000417",
                since_time_ns=T0,
            ),
        ),
        ("open_orders_query_all", OpenOrdersQuery(request_id="r-2", accounts=[], client_order_ids=[])),
        (
            "open_orders_snapshot",
            OpenOrdersSnapshot(
                request_id="r-1",
                orders=[
                    WorkingOrder(**order),
                    WorkingOrder(
                        **{
                            **order,
                            "client_order_id": "",
                            "platform_order_id": None,
                            "order_type": OrderType.MARKET,
                            "limit_price": None,
                            "status": OrderStatus.PENDING,
                            "filled_quantity": 0,
                            "avg_fill_price": None,
                        }
                    ),
                ],
                unknown_client_order_ids=["B.N81"],
                executions=[ExecutionRecord(**exe)],
                time_ns=T0 + 5,
            ),
        ),
        ("md_subscribe", MdSubscribe(instrument="ES 12-24")),
        ("md_unsubscribe", MdUnsubscribe(instrument="ES 12-24")),
        (
            "tick",
            BridgeTick(
                instrument="NQ 03-25",
                bid=16250.5,
                ask=16250.75,
                last=16250.75,
                bid_size=12.0,
                ask_size=7.0,
                last_size=1.0,
                time_ns=T0,
            ),
        ),
        (
            "tick_extremes",
            BridgeTick(
                instrument="BTC 01-25",
                bid=1e-7,
                ask=1e21,
                last=5e-324,
                bid_size=0.5,
                ask_size=1.7976931348623157e308,
                last_size=None,
                time_ns=T0,
            ),
        ),
        ("tick_no_quotes", BridgeTick(instrument="NQ 03-25", time_ns=T0)),
    ]


def stamped() -> list[tuple[str, BridgeMessage]]:
    return [(name, msg.model_copy(update={"seq": i})) for i, (name, msg) in enumerate(_messages(), start=1)]


def decode_only() -> list[tuple[str, bytes, str]]:
    """Valid but non-canonical spellings, each with the canonical vector it must decode to."""
    submit = (
        ' {\n  "seq" : 9 ,\t"type":"order_submit", "time_in_force":"day","stop_price":null,'
        '"limit_price":1.625075E4,"order_type":"limit","quantity":1,"side":"buy",'
        '"instrument":"NQ\\u002003-25","account":"Sim\\u0031\\u00301","client_order_id":"x\\/y"}\r\n'
    )
    tick = (
        '{"type":"tick","seq":25,"instrument":"NQ 03-25","bid":16250.500,"ask":1625075e-2,"last":16250.75,'
        '"bid_size":12,"ask_size":0.7E1,"last_size":1.0,"time_ns":1767225600123456789}'
    )
    hello = (
        '{"type":"hello","seq":1,"platform":"nt8","platform_version":"8.1.4.1",'
        '"accounts":["Sim101","APEX-4417-02"],"auth_token":"s3cr3t\\u002Dtoken","protocol_version":1}'
    )
    emoji = '{"type":"order_cancel","seq":11,"client_order_id":"' + COID.replace(".", "\\u002e") + '"}'
    return [
        ("order_submit_reordered_whitespace", frame(submit), "order_submit_limit_like"),
        ("tick_number_spellings", frame(tick), "tick"),
        ("hello_escapes_reordered", frame(hello), "hello_nt8"),
        ("order_cancel_escaped", frame(emoji), "order_cancel"),
    ]

"""Regenerate layouts.json and vectors.json from Sierra Chart's DTCProtocol.h with a C++ compiler.

The expected bytes in this folder do not come from our codec: this script fills each C struct of
the reference header (public domain) with g++ and dumps its bytes, so the conformance test
compares our encoder with what a C program using the header puts on the wire. The header itself
is not kept in this repository; fetch it and pass its path:

    git clone https://github.com/moontrade/dtc-go /tmp/dtc-go          # 2022 revision
    git clone https://github.com/cloudostrich/dtcpp /tmp/dtcpp          # 2020 revision (compat)
    python tests/conformance/dtc/gen_vectors.py \\
        --header /tmp/dtc-go/codegen/testdata/DTCProtocol.h --compat-header /tmp/dtcpp/DTCProtocol.h

Needs g++ on an x86-64 (little-endian, LP64) host; `#pragma pack(push, 8)` gives the same layout
there as MSVC on Windows, where Sierra Chart runs, for the member types these structs use.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DBL_MAX = 1.7976931348623157e308

STRUCTS = [
    "s_EncodingRequest", "s_EncodingResponse", "s_LogonRequest", "s_LogonResponse", "s_Heartbeat",
    "s_Logoff", "s_MarketDataFeedStatus", "s_MarketDataFeedSymbolStatus", "s_TradingSymbolStatus",
    "s_MarketDataRequest", "s_MarketDataReject", "s_MarketDataSnapshot", "s_MarketDataUpdateTrade",
    "s_MarketDataUpdateTradeCompact", "s_MarketDataUpdateBidAsk", "s_MarketDataUpdateBidAskCompact",
    "s_MarketDataUpdateSessionVolume", "s_MarketDataUpdateSessionHigh", "s_MarketDataUpdateSessionLow",
    "s_MarketDataUpdateSessionOpen", "s_MarketDataUpdateSessionSettlement",
    "s_MarketDataUpdateOpenInterest", "s_MarketDataUpdateLastTradeSnapshot",
    "s_SecurityDefinitionForSymbolRequest", "s_SecurityDefinitionResponse", "s_SecurityDefinitionReject",
    "s_TradeAccountsRequest", "s_TradeAccountResponse", "s_UserMessage", "s_GeneralLogMessage",
    "s_AlertMessage", "s_SubmitNewSingleOrder", "s_SubmitFlattenPositionOrder", "s_CancelOrder",
    "s_CancelReplaceOrder", "s_OpenOrdersRequest", "s_OpenOrdersReject", "s_OrderUpdate",
    "s_HistoricalOrderFillsRequest", "s_HistoricalOrderFillResponse", "s_HistoricalOrderFillsReject",
    "s_CurrentPositionsRequest", "s_CurrentPositionsReject", "s_PositionUpdate",
    "s_AccountBalanceRequest", "s_AccountBalanceReject", "s_AccountBalanceUpdate",
]  # fmt: skip

# Structs whose size differs between the 2020 and 2022 revisions: the 2020 bytes must still decode.
COMPAT_STRUCTS = [
    "s_LogonRequest", "s_SubmitNewSingleOrder", "s_CancelOrder", "s_CancelReplaceOrder",
    "s_OrderUpdate", "s_PositionUpdate", "s_SecurityDefinitionResponse", "s_AccountBalanceUpdate",
]  # fmt: skip

# Realistic hand-written values (DTC field names), on top of one patterned vector per struct.
HAND_VECTORS: list[tuple[str, str, dict[str, Any]]] = [
    ("encoding_request_json", "s_EncodingRequest", {
        "ProtocolVersion": 8, "Encoding": 2, "ProtocolType": "DTC"}),
    ("logon_request", "s_LogonRequest", {
        "Username": "trader1", "Password": "s3cret!", "HeartbeatIntervalInSeconds": 10,
        "TradeAccount": "Sim1", "ClientName": "NEXUS mesh", "Integer_1": 2}),
    ("logon_response_ok", "s_LogonResponse", {
        "Result": 1, "ResultText": "Logon OK", "ServerName": "SC DTC Server", "TradingIsSupported": 1,
        "OCOOrdersSupported": 1, "SymbolExchangeDelimiter": "-", "SecurityDefinitionsSupported": 1,
        "MarketDepthIsSupported": 0, "BracketOrdersSupported": 1}),
    ("heartbeat", "s_Heartbeat", {"NumDroppedMessages": 3, "CurrentDateTime": 1767225600}),
    ("logoff", "s_Logoff", {"Reason": "server shutting down", "DoNotReconnect": 1}),
    ("md_request_nq", "s_MarketDataRequest", {"RequestAction": 1, "SymbolID": 7, "Symbol": "NQZ25-CME",
                                              "Exchange": "CME"}),
    ("md_trade", "s_MarketDataUpdateTrade", {"SymbolID": 7, "AtBidOrAsk": 2, "Price": 21345.25,
                                             "Volume": 3.0, "DateTime": 1767225600.125}),
    ("md_bid_ask_unset_ask", "s_MarketDataUpdateBidAsk", {"SymbolID": 7, "BidPrice": 21345.0,
                                                          "BidQuantity": 12.0, "AskPrice": DBL_MAX,
                                                          "DateTime": 1767225600}),
    ("submit_limit_buy", "s_SubmitNewSingleOrder", {
        "Symbol": "NQZ25-CME", "Exchange": "CME", "TradeAccount": "Sim1",
        "ClientOrderID": "01JBQ3Z8M5X9W2C4T6Y8R0P1A3.SC0", "OrderType": 2, "BuySell": 1,
        "Price1": 21340.5, "Quantity": 2.0, "TimeInForce": 1, "IsAutomatedOrder": 1,
        "FreeFormText": "nexus"}),
    ("submit_stop_limit_gtd", "s_SubmitNewSingleOrder", {
        "Symbol": "ESZ25", "ClientOrderID": "x" * 31, "OrderType": 4, "BuySell": 2, "Price1": 6000.25,
        "Price2": 5999.75, "Quantity": 1.0, "TimeInForce": 3, "GoodTillDateTime": 1767312000,
        "OpenOrClose": 2, "MaxShowQuantity": 1.0, "Price1AsString": "6000.25"}),
    ("cancel_by_client_id", "s_CancelOrder", {"ClientOrderID": "01JBQ3Z8M5X9W2C4T6Y8R0P1A3.SC0"}),
    ("cancel_replace_price_only", "s_CancelReplaceOrder", {
        "ServerOrderID": "SC-1001", "ClientOrderID": "01JBQ3Z8M5X9W2C4T6Y8R0P1A3.SC0", "Price1": 21341.0,
        "Price2IsSet": 0, "Quantity": 2.0}),
    ("open_orders_all", "s_OpenOrdersRequest", {"RequestID": 42, "TradeAccount": "Sim1"}),
    ("order_update_partial_fill", "s_OrderUpdate", {
        "RequestID": 0, "TotalNumMessages": 1, "MessageNumber": 1, "Symbol": "NQZ25-CME", "Exchange": "CME",
        "ServerOrderID": "SC-1001", "ClientOrderID": "01JBQ3Z8M5X9W2C4T6Y8R0P1A3.SC0", "OrderStatus": 10,
        "OrderUpdateReason": 5, "OrderType": 2, "BuySell": 1, "Price1": 21340.5, "TimeInForce": 1,
        "OrderQuantity": 2.0, "FilledQuantity": 1.0, "RemainingQuantity": 1.0, "AverageFillPrice": 21340.5,
        "LastFillPrice": 21340.5, "LastFillDateTime": 1767225600123, "LastFillQuantity": 1.0,
        "LastFillExecutionID": "E-77", "TradeAccount": "Sim1", "InfoText": "Fill \u00e0 21340.50",
        "OpenOrClose": 1, "OrderReceivedDateTime": 1767225599000, "LatestTransactionDateTime": 1767225600.123,
        "Username": "trader1"}),
    ("order_update_no_orders", "s_OrderUpdate", {"RequestID": 42, "TotalNumMessages": 1, "MessageNumber": 1,
                                                 "NoOrders": 1, "OrderUpdateReason": 1}),
    ("position_short", "s_PositionUpdate", {
        "RequestID": 5, "TotalNumberMessages": 2, "MessageNumber": 1, "Symbol": "WDOF26", "Exchange": "BMF",
        "Quantity": -3.0, "AveragePrice": 5412.5, "TradeAccount": "Sim1", "Unsolicited": 0,
        "EntryDateTime": 1767225600, "OpenProfitLoss": -150.0}),
    ("fills_request", "s_HistoricalOrderFillsRequest", {"RequestID": 9, "NumberOfDays": 2,
                                                        "TradeAccount": "Sim1"}),
    ("fill_response", "s_HistoricalOrderFillResponse", {
        "RequestID": 9, "TotalNumberMessages": 1, "MessageNumber": 1, "Symbol": "NQZ25-CME",
        "ServerOrderID": "SC-1001", "BuySell": 1, "Price": 21340.5, "DateTime": 1767225600, "Quantity": 1.0,
        "UniqueExecutionID": "E-77", "TradeAccount": "Sim1", "OpenClose": 1}),
    ("security_definition_nq", "s_SecurityDefinitionResponse", {
        "RequestID": 3, "Symbol": "NQZ25-CME", "Exchange": "CME", "SecurityType": 1,
        "Description": "E-mini Nasdaq-100 Futures", "MinPriceIncrement": 0.25, "PriceDisplayFormat": 2,
        "CurrencyValuePerIncrement": 5.0, "IsFinalMessage": 1, "Currency": "USD", "ContractSize": 20.0,
        "SecurityExpirationDate": 1766102400}),
    ("trade_account", "s_TradeAccountResponse", {"TotalNumberMessages": 1, "MessageNumber": 1,
                                                 "TradeAccount": "Sim1", "RequestID": 1}),
]  # fmt: skip

FIELD_RE = re.compile(
    r"^\s*([A-Za-z_][A-Za-z_0-9:]*)\s+([A-Za-z_][A-Za-z_0-9]*)\s*(\[[A-Za-z_0-9]+\])?\s*(=[^;]*)?;"
)
NOT_TYPES = {"return", "const", "void", "delete", "using", "typedef"}


def struct_fields(source: str, name: str) -> list[str]:
    match = re.search(r"struct\s+" + name + r"\s*\{(.*?)\n\t\};", source, re.S)
    if not match:
        raise SystemExit(f"struct {name} not found")
    names, depth = [], 0
    for line in match.group(1).split("\n"):
        m = FIELD_RE.match(line)
        if depth == 0 and m and m.group(1) not in NOT_TYPES:
            names.append(m.group(2))
        depth += line.count("{") - line.count("}")
    return names


def c_literal(value: Any) -> str:
    if isinstance(value, str):
        return '"' + "".join(f"\\{b:03o}" for b in value.encode("utf-8")) + '"'
    if isinstance(value, float):
        return repr(value)
    return f"{value}ULL" if value > 0x7FFF_FFFF_FFFF_FFFF else f"{value}LL"


# Helpers compiled in front of every generated program: kind_of<T>() classifies a member
# (0 unsigned, 1 signed, 2 floating point, 3 char array), pv() prints a getter's value as JSON
# (strings hex-encoded), dump() prints a struct's bytes as hex.
CPP_HELPERS = r"""
template <class T, bool E = std::is_enum<T>::value>
struct sgn { static const bool v = std::is_signed<T>::value; };
template <class T> struct sgn<T, true> {
  static const bool v = std::is_signed<typename std::underlying_type<T>::type>::value;
};
template <class T> int kind_of() {
  return std::is_array<T>::value ? 3 : std::is_floating_point<T>::value ? 2 : sgn<T>::v ? 1 : 0;
}
template <class T> void pv(T v) {
  if constexpr (std::is_floating_point<T>::value) printf("%.17g", (double)v);
  else printf("%lld", (long long)v);
}
void pv(const char* v) {
  printf("\"");
  for (; *v; ++v) printf("%02x", (unsigned char)*v);
  printf("\"");
}
template <class T> void dump(const char* tag, const T* p) {
  const unsigned char* b = (const unsigned char*)p;
  printf("\"%s\":\"", tag);
  for (size_t i = 0; i < sizeof(T); ++i) printf("%02x", b[i]);
  printf("\",");
}
"""
INCLUDES = ["cstring", "cfloat", "climits", "cstddef", "cstdio", "new", "type_traits"]


def run_cpp(header: Path, body: list[str]) -> Any:
    """Compile `body` (statements of main) against the header and its DTCProtocol.cpp, run it."""
    prelude = [f"#include <{name}>" for name in INCLUDES]
    prelude += [f'#include "{header}"', "using namespace DTC;", CPP_HELPERS, "int main() {", 'printf("{");']
    with tempfile.TemporaryDirectory() as tmp:
        src, exe = Path(tmp) / "gen.cpp", Path(tmp) / "gen"
        src.write_text("\n".join([*prelude, *body, 'printf("\\"_\\":0}\\n");', "return 0; }"]))
        impl = header.with_name("DTCProtocol.cpp")  # getters, CopyFrom, SetProtocolType
        cmd = ["g++", "-std=c++17", "-w", "-I", str(header.parent), str(src), str(impl), "-o", str(exe)]
        subprocess.run(cmd, check=True)
        out = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout
    result = json.loads(out)
    result.pop("_")
    return result


def fill(struct: str, tag: str, values: dict[str, Any]) -> list[str]:
    """C++ that builds the struct in zeroed storage (padding stays 0), sets fields, dumps bytes."""
    lines = ["{", f"alignas(8) unsigned char buf[sizeof({struct})] = {{0}};",
             f"{struct}* m = new (buf) {struct}();"]  # fmt: skip
    for field, value in values.items():
        if isinstance(value, str):
            lines.append(f"strncpy(m->{field}, {c_literal(value)}, sizeof(m->{field}) - 1);")
        else:
            lines.append(f"m->{field} = (decltype(m->{field}))({c_literal(value)});")
    lines += [f'dump("{tag}", m);', "}"]
    return lines


def layouts(header: Path, names: list[str]) -> dict[str, Any]:
    source = header.read_text()
    body = []
    for name in names:
        body.append(f'{{ {name} m; printf("\\"{name}\\":{{\\"type\\":%u,\\"size\\":%zu,\\"fields\\":[", '
                    f"(unsigned)m.Type, sizeof({name}));")  # fmt: skip
        for i, field in enumerate(struct_fields(source, name)):
            sep = "," if i else ""
            body.append(f'printf("{sep}[\\"{field}\\",%zu,%zu,%d]", offsetof({name}, {field}), '
                        f"sizeof(m.{field}), kind_of<decltype(m.{field})>());")  # fmt: skip
        body.append('printf("]},"); }')
    raw = run_cpp(header, body)
    kinds = {0: "unsigned", 1: "signed", 2: "float", 3: "char"}
    out = {}
    for name, v in raw.items():
        fields = [{"name": f, "offset": o, "size": n, "kind": kinds[k]} for f, o, n, k in v["fields"]]
        out[name] = {"type": v["type"], "size": v["size"], "fields": fields}
    return out


def patterned(layout: dict[str, Any]) -> dict[str, Any]:
    """Distinct, in-range values derived from each field's offset (header fields excluded)."""
    values: dict[str, Any] = {}
    for f in layout["fields"][2:]:
        off, size, kind = f["offset"], f["size"], f["kind"]
        if kind == "char":
            values[f["name"]] = f"{f['name']}@{off}"[: size - 1]
        elif kind == "float":
            values[f["name"]] = off + (0.5 if size == 4 else 0.125)
        elif size == 1:
            values[f["name"]] = 1
        elif size == 2:
            values[f["name"]] = 2
        else:
            values[f["name"]] = 1_700_000_000 + off if size == 8 else 1000 + off
    return values


def vectors_for(header: Path, lay: dict[str, Any], hand: list[tuple[str, str, dict[str, Any]]]) -> list[Any]:
    specs = [(f"{s[2:]}_patterned", s, patterned(lay[s])) for s in lay] + list(hand)
    body = [line for tag, struct, values in specs for line in fill(struct, tag, values)]
    body += [line for s in lay for line in fill(s, f"{s[2:]}_default", {})]
    dumped = run_cpp(header, body)
    out = [
        {"name": t, "struct": s, "type": lay[s]["type"], "fields": v, "hex": dumped[t]} for t, s, v in specs
    ]
    out += [{"name": f"{s[2:]}_default", "struct": s, "type": lay[s]["type"], "fields": None,
             "hex": dumped[f"{s[2:]}_default"]} for s in lay]  # fmt: skip
    return out


def truncations(header: Path, lay: dict[str, Any]) -> list[Any]:
    """Patterned bytes with Size cut short, read back through the header's CopyFrom and getters."""
    source = header.read_text()
    body, cases = [], []
    for struct, layout in lay.items():
        last = layout["fields"][-1]["offset"]
        cuts = sorted({4, layout["size"] // 2 + 1, last, last + 1})
        for cut in cuts:
            tag = f"{struct[2:]}_cut{cut}"
            cases.append((tag, struct, cut))
            body += fill(struct, tag, patterned(layout))[:-2]  # build the patterned struct in m
            body += [f"m->Size = {cut};", f"{struct} r; r.CopyFrom(m);", f'printf("\\"{tag}\\":{{");']
            getters = [f for f in layout["fields"][2:] if re.search(rf"\bGet{f['name']}\s*\(", source)]
            for i, f in enumerate(getters):
                sep = "," if i else ""
                body.append(f'printf("{sep}\\"{f["name"]}\\":"); pv(r.Get{f["name"]}());')
            body += ['printf("},");', "}"]
    got = run_cpp(header, body)
    out = []
    for tag, struct, cut in cases:
        fields = {
            k: bytes.fromhex(v).decode("utf-8") if isinstance(v, str) else v for k, v in got[tag].items()
        }
        out.append(
            {"name": tag, "struct": struct, "type": lay[struct]["type"], "size": cut, "getters": fields}
        )
    return out


def source_info(header: Path, repo: str, commit: str) -> dict[str, str]:
    return {"repo": repo, "commit": commit, "sha256": hashlib.sha256(header.read_bytes()).hexdigest()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--header", type=Path, required=True, help="2022 DTCProtocol.h (moontrade/dtc-go)")
    parser.add_argument("--compat-header", type=Path, help="2020 DTCProtocol.h (cloudostrich/dtcpp)")
    args = parser.parse_args()
    header = args.header.resolve()
    lay = layouts(header, STRUCTS)
    (HERE / "layouts.json").write_text(json.dumps(
        {"source": source_info(header, "moontrade/dtc-go codegen/testdata/DTCProtocol.h",
                               "56170f9f48f5366f74503b16a8c9ed55a481094f"),
         "structs": lay}, indent=1) + "\n")  # fmt: skip
    doc: dict[str, Any] = {"source": source_info(header, "moontrade/dtc-go codegen/testdata/DTCProtocol.h",
                                                 "56170f9f48f5366f74503b16a8c9ed55a481094f"),
                           "vectors": vectors_for(header, lay, HAND_VECTORS),
                           "truncated": truncations(header, lay)}  # fmt: skip
    if args.compat_header:
        old = args.compat_header.resolve()
        old_lay = layouts(old, COMPAT_STRUCTS)
        doc["compat_source"] = source_info(
            old, "cloudostrich/dtcpp DTCProtocol.h", "9be098dd2cca52aa63651a5a11c277e19a429818"
        )
        doc["compat_layouts"] = old_lay
        doc["compat_vectors"] = [v for v in vectors_for(old, old_lay, []) if v["fields"] is not None]
    (HERE / "vectors.json").write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()

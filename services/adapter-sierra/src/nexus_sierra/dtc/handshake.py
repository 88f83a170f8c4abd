"""The start of a DTC session: encoding, logon, trade account. Pure protocol over `Waiters`.

1. ENCODING_REQUEST (binary, always sent binary): the server must answer binary; we speak nothing else.
2. LOGON_REQUEST with the credentials, the heartbeat interval (whole seconds, both sides send at it),
   the trade mode (in the pre-2022 TradeMode slot, `Unused1` since) and the account. The server must
   answer LOGON_SUCCESS and TradingIsSupported (Sierra Chart's "Allow Trading").
3. TRADE_ACCOUNTS_REQUEST: the configured account must be among those offered; with none
   configured, the server must offer exactly one.
Any refusal raises `SessionError` saying what to change; `no_reconnect` when retrying soon is
pointless (LOGON_ERROR_NO_RECONNECT, trading not allowed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from nexus_sierra.config import ClientConfig
from nexus_sierra.dtc.codec import (
    DtcMessage,
    EncodingEnum,
    EncodingRequest,
    EncodingResponse,
    LogonRequest,
    LogonResponse,
    LogonStatusEnum,
    Message,
    TradeAccountResponse,
    TradeAccountsRequest,
)
from nexus_sierra.dtc.connection import DtcConnection
from nexus_sierra.dtc.waiters import Waiters

M = TypeVar("M", bound=DtcMessage)


class SessionError(Exception):
    """The server refused the session (encoding, logon, trade account)."""

    def __init__(self, reason: str, *, no_reconnect: bool = False) -> None:
        super().__init__(reason)
        self.no_reconnect = no_reconnect


@dataclass(frozen=True, slots=True)
class Logon:
    server_name: str
    account: str


def _accounts_done(m: Message) -> bool:
    return isinstance(m, TradeAccountResponse) and m.message_number >= m.total_number_messages


def _reply(w: Waiters, conn: DtcConnection, msg: DtcMessage, reply: type[M]) -> M:
    got = w.exchange(conn, w.replies, reply.TYPE, msg, lambda _m: True, what=reply.__name__)
    if not isinstance(got[0], reply):
        raise SessionError(f"expected {reply.__name__}, got {got[0]!r}")
    return got[0]


def handshake(conn: DtcConnection, cfg: ClientConfig, w: Waiters, next_id: Callable[[], int]) -> Logon:
    enc = _reply(w, conn, EncodingRequest(encoding=EncodingEnum.BINARY), EncodingResponse)
    if enc.encoding is not EncodingEnum.BINARY:
        raise SessionError(
            f"the server chose the {enc.encoding.name} encoding, not binary: set the DTC "
            "server's encoding to Binary (or Automatic)"
        )
    logon = _reply(
        w,
        conn,
        LogonRequest(
            username=cfg.username,
            password=cfg.password,
            heartbeat_interval_s=cfg.heartbeat_interval_s,
            unused_1=cfg.trade_mode,
            trade_account=cfg.trade_account,
            client_name=cfg.client_name,
        ),
        LogonResponse,
    )
    if logon.result is not LogonStatusEnum.SUCCESS:
        raise SessionError(
            f"logon refused ({logon.result.name}): {logon.result_text!r}",
            no_reconnect=logon.result is LogonStatusEnum.ERROR_NO_RECONNECT,
        )
    if not logon.trading_is_supported:
        raise SessionError(
            "the DTC server does not allow trading: enable 'Allow Trading' in Sierra Chart's "
            "SC Server Settings",
            no_reconnect=True,
        )
    conn.start_heartbeats(cfg.heartbeat_interval_s, cfg.dead_after_s)
    rid = next_id()
    got = w.exchange(
        conn, w.requests, rid, TradeAccountsRequest(request_id=rid), _accounts_done, what="trade accounts"
    )
    offered = [m.trade_account for m in got if isinstance(m, TradeAccountResponse) and m.trade_account]
    if cfg.trade_account:
        if cfg.trade_account not in offered:
            raise SessionError(
                f"trade account {cfg.trade_account!r} is not offered by the server (it offers {offered})"
            )
        return Logon(logon.server_name, cfg.trade_account)
    if len(offered) == 1:
        return Logon(logon.server_name, offered[0])
    raise SessionError(f"set NX_SIERRA_TRADE_ACCOUNT: the server offers {offered}")

"""The client's errors say what happened to the signal: safe mode sent nothing; a link that failed
during the send leaves the outcome unknown, and the error never claims it was not sent."""

from __future__ import annotations

from nexus_bridge import AsyncNexusGatewayInterface, SafeModeError, SendUnknownError

SID = "01JQ0000000000000000000000"


def test_safe_mode_says_nothing_was_sent() -> None:
    err = SafeModeError("disconnected", "no connection to the mesh's Redis", since_s=2.0)
    assert (
        str(err)
        == "safe mode (disconnected for 2.0 s): no connection to the mesh's Redis; the signal was NOT sent"
    )


def test_a_send_that_failed_on_the_way_is_of_unknown_outcome() -> None:
    gw = AsyncNexusGatewayInterface("redis://127.0.0.1:1/0")
    err = gw.send_failed(SID, ConnectionError("reset by peer"))
    assert isinstance(err, SendUnknownError) and isinstance(err, SafeModeError)
    assert (err.signal_id, err.status) == (SID, "disconnected")
    assert "may or may not have reached the mesh" in str(err) and "reset by peer" in str(err)
    assert "NOT sent" not in str(err)
    assert gw.status == "disconnected"

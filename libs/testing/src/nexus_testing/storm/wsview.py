"""The payload bytes of a WebSocket client's frames, unmasked, for a proxy that looks without touching.

A WebSocket client masks every frame it sends (RFC 6455, 5.3), so a client order id in an add-on's
message is not in the bytes on the wire. `WsView.feed(chunk)` takes the bytes of the client's side of
the connection as they pass (the HTTP upgrade request first, then frames, split anywhere) and returns
the payload bytes those chunks completed or advanced, unmasked. The proxy forwards the original bytes;
this is only what it reads. Extensions that transform payloads (permessage-deflate) are not handled:
neither the Bookmap add-on's client nor the tests negotiate one.
"""

from __future__ import annotations

_HEADER_END = b"\r\n\r\n"


class WsView:
    def __init__(self) -> None:
        self._upgraded = False
        self._buf = bytearray()
        self._mask = b""
        self._left = 0  # payload bytes of the current frame not seen yet
        self._offset = 0  # position in the current frame's payload (for the mask)

    def feed(self, chunk: bytes) -> bytes:
        self._buf += chunk
        out = bytearray()
        if not self._upgraded:
            end = self._buf.find(_HEADER_END)
            if end < 0:
                return bytes(self._buf[-4096:])  # the request line and headers, as they are
            out += self._buf[: end + len(_HEADER_END)]
            del self._buf[: end + len(_HEADER_END)]
            self._upgraded = True
        while self._buf:
            if self._left == 0:
                if not self._start_frame():
                    break
                continue  # an empty frame: the next header
            take = min(self._left, len(self._buf))
            out += self._unmask(bytes(self._buf[:take]))
            del self._buf[:take]
            self._left -= take
        return bytes(out)

    def _start_frame(self) -> bool:
        """Parse the next frame header from the buffer; False until it is complete."""
        if len(self._buf) < 2:
            return False
        masked, length = self._buf[1] & 0x80, self._buf[1] & 0x7F
        at = 2
        if length == 126:
            if len(self._buf) < 4:
                return False
            length, at = int.from_bytes(self._buf[2:4], "big"), 4
        elif length == 127:
            if len(self._buf) < 10:
                return False
            length, at = int.from_bytes(self._buf[2:10], "big"), 10
        if len(self._buf) < at + (4 if masked else 0):
            return False
        self._mask = bytes(self._buf[at : at + 4]) if masked else b""
        del self._buf[: at + (4 if masked else 0)]
        self._left, self._offset = length, 0
        return True

    def _unmask(self, data: bytes) -> bytes:
        if not self._mask:
            return data
        start = self._offset
        self._offset += len(data)
        return bytes(b ^ self._mask[(start + i) % 4] for i, b in enumerate(data))

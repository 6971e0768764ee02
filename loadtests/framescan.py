"""A minimal reader for server-to-client WebSocket frames, for the passive majority of connections.

Full parsing (websockets' protocol, JSON) costs tens of µs per frame; at 100k deliveries/s that is
the load generator's whole CPU. A passive connection only needs to count deliveries and answer
pings, so this scanner walks frame headers (server frames are unmasked), counts data frames whose
first bytes carry the adapter's delivery marker, and hands back ping payloads - WebSocket pings, and
text frames that are the protocol's own ping (Engine.IO's "2", which Socket.IO servers time out on).
Pure: bytes in, counts out. With `keep`, it hands back every data message's payload instead (fragments
joined), for the probes, which decode and time each one without websockets' per-frame parser.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MARKER_WINDOW = 96  # bytes of payload searched for the marker


@dataclass
class FrameScanner:
    marker: bytes
    app_ping: bytes | None = None  # a whole text frame that is an application-level ping
    app_pings: int = 0             # seen since the caller last reset it
    keep: bool = False             # collect data messages in `payloads` (not counted)
    payloads: list[bytes] = field(default_factory=list)  # the caller takes them after each feed
    partial: bytearray | None = None  # a fragmented message's payload so far (keep mode)
    buf: bytearray = field(default_factory=bytearray)
    closed: bool = False
    close_code: int | None = None

    def feed(self, data: bytes) -> tuple[int, list[bytes]]:
        """Consume bytes; return (deliveries completed, ping payloads to answer)."""
        buf = self.buf
        buf += data
        pos, end_of_data, count = 0, len(buf), 0
        pings: list[bytes] = []
        marker, keep = self.marker, self.keep
        while end_of_data - pos >= 2:
            opcode, length, head = buf[pos] & 0x0F, buf[pos + 1] & 0x7F, 2
            if length == 126:
                if end_of_data - pos < 4:
                    break
                length, head = int.from_bytes(buf[pos + 2:pos + 4], "big"), 4
            elif length == 127:
                if end_of_data - pos < 10:
                    break
                length, head = int.from_bytes(buf[pos + 2:pos + 10], "big"), 10
            start, end = pos + head, pos + head + length
            if end > end_of_data:
                break
            if keep and opcode in (0, 1, 2):
                self._keep(opcode, buf[pos] & 0x80, buf[start:end])
            elif opcode in (0, 1, 2):
                if buf.find(marker, start, min(end, start + MARKER_WINDOW)) != -1:
                    count += 1
                elif self.app_ping is not None and buf[start:end] == self.app_ping:
                    self.app_pings += 1
            elif opcode == 9:
                pings.append(bytes(buf[start:end]))
            elif opcode == 8:
                self.closed = True
                self.close_code = int.from_bytes(buf[start:start + 2], "big") if length >= 2 else None
            pos = end
        del buf[:pos]
        return count, pings

    def _keep(self, opcode: int, fin: int, payload: bytearray) -> None:
        if opcode:  # the first frame of a message
            if fin:
                self.payloads.append(bytes(payload))
            else:
                self.partial = payload
        elif self.partial is not None:  # a continuation
            self.partial += payload
            if fin:
                self.payloads.append(bytes(self.partial))
                self.partial = None

"""The I/O edge of the hub's keepalive: the visit the ping wheel (`core.keepalive`) makes to each
connection once per heartbeat interval.

Any frame from the peer counts as a sign of life, not only the pong (`HubConnection.heard`).
"""

from __future__ import annotations

from websockets.frames import Frame, Opcode
from websockets.protocol import State

from spotctl_sandbox.realtime.protocol import CloseCode

from .conn import Conn

PING = Frame(Opcode.PING, b"hub").serialize(mask=False, extensions=[])


def visit(conn: Conn) -> bool:
    """Ping `conn`, or close it if nothing arrived since the previous ping; False when closed here."""
    ws = conn.ws
    if conn.closing or ws.protocol.state is not State.OPEN:
        return True
    if conn.pinged and not ws.heard and not ws.arrivals:  # frames waiting on us: the peer is alive
        conn.drop(CloseCode.INTERNAL, "keepalive ping timeout")  # what websockets' own keepalive sends
        return False
    ws.heard = False
    conn.pinged = True
    conn.write(PING)
    return True

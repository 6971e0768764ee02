"""Signed stream links, the local stand-in for a CDN's signed URL: HMAC over song id + expiry.

Pure functions (no I/O): the play endpoint signs, /stream verifies; players need no header.
"""

from __future__ import annotations

import hashlib
import hmac


class LinkError(Exception):
    """The link cannot be honoured; the message says why."""


def _mac(secret: str, song_id: int, expires: int) -> str:
    key = hashlib.sha256(b"stream-link:" + secret.encode()).digest()
    return hmac.new(key, f"{song_id}:{expires}".encode(), hashlib.sha256).hexdigest()


def sign(secret: str, song_id: int, expires: int) -> str:
    return f"/stream/{song_id}?expires={expires}&signature={_mac(secret, song_id, expires)}"


def verify(secret: str, song_id: int, expires: int, signature: str, now: float) -> None:
    # compared as bytes: hmac.compare_digest raises TypeError on a str that is not ASCII
    if not hmac.compare_digest(_mac(secret, song_id, expires).encode(), signature.encode("utf-8", "replace")):
        raise LinkError("stream link signature is invalid")
    if expires < now:
        raise LinkError("stream link expired (ask for a new one via /api/songs/{id}/play)")

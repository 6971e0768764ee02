"""Signed stream links (pure): valid until expiry, bound to the song, tamper-evident."""

from __future__ import annotations

import pytest

from spotctl_sandbox.api import signing


def parts(link: str) -> tuple[int, int, str]:
    path, query = link.split("?")
    params = dict(p.split("=") for p in query.split("&"))
    return int(path.rsplit("/", 1)[1]), int(params["expires"]), params["signature"]


def test_a_fresh_link_verifies() -> None:
    song, expires, sig = parts(signing.sign("s", 42, 2_000))
    signing.verify("s", song, expires, sig, now=1_999)


@pytest.mark.parametrize(("secret", "song", "expires", "now", "reason"), [
    ("s", 42, 2_000, 2_001, "stream link expired"),
    ("s", 43, 2_000, 1_000, "stream link signature is invalid"),
    ("s", 42, 9_999, 1_000, "stream link signature is invalid"),
    ("other", 42, 2_000, 1_000, "stream link signature is invalid"),
])
def test_expired_or_altered_links_fail_with_the_reason(secret: str, song: int, expires: int, now: int,
                                                       reason: str) -> None:
    _, _, sig = parts(signing.sign("s", 42, 2_000))
    with pytest.raises(signing.LinkError, match=reason):
        signing.verify(secret, song, expires, sig, now=now)

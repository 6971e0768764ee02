"""The hub's own text-frame encoder against websockets' serializer (the reference): every frame the hub
writes goes through `encode_text`, so its bytes must be exactly what websockets would write, at every
length-encoding boundary (125/126 bytes, 65535/65536) and for text whose UTF-8 is longer than its str."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.frames import Frame, Opcode

from spotctl_sandbox.hub.core.fanout import encode_text


def reference(text: str) -> bytes:
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=False, extensions=[])


@settings(max_examples=500)
@given(st.text())
def test_any_text_is_encoded_as_websockets_does(text: str) -> None:
    assert encode_text(text) == reference(text)


# sizes in UTF-8 bytes around the boundaries of the 7-, 16- and 64-bit length forms
SIZES = st.sampled_from([0, 1, 124, 125, 126, 127, 1000, 65534, 65535, 65536, 65537, 200_000])


@settings(max_examples=200)
@given(SIZES, st.sampled_from(["a", "é", "€", "𝄞"]), st.integers(min_value=0, max_value=3))
def test_lengths_at_the_boundaries(size: int, char: str, pad: int) -> None:
    width = len(char.encode())
    text = char * (size // width) + "x" * (size % width + pad)  # exactly size + pad bytes of UTF-8
    assert len(text.encode()) == size + pad
    assert encode_text(text) == reference(text)


def test_header_forms() -> None:
    assert encode_text("hi") == b"\x81\x02hi"
    assert encode_text("x" * 126)[:4] == b"\x81\x7e\x00\x7e"
    assert encode_text("x" * 65536)[:10] == b"\x81\x7f\x00\x00\x00\x00\x00\x01\x00\x00"

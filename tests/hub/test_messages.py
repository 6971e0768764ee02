"""The protocol's one table agrees with itself and with its documentation: every client message type
has a schema and a handler, each handler's content type matches its schema, and docs/hub-protocol.md
documents every message, reply and pushed frame."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import NotRequired, get_origin, get_type_hints

import pytest

from spotctl_sandbox.hub import features
from spotctl_sandbox.hub.connection import INBOUND
from spotctl_sandbox.hub.features import FEATURES, MESSAGES, chat, listening, notifications, playlists, rooms, system
from spotctl_sandbox.hub.features.context import Context
from spotctl_sandbox.hub.features.feature import Feature

DOC = (Path(__file__).resolve().parents[2] / "docs" / "hub-protocol.md").read_text()
MODULES = (system, rooms, notifications, chat, listening, playlists)


def test_every_schema_has_a_handler_and_every_handler_a_schema() -> None:
    assert set(INBOUND.schemas) == set(MESSAGES)
    for kind, message in MESSAGES.items():
        assert message.schema["type"] == "object", kind
        assert inspect.iscoroutinefunction(message.handler), kind
    declared = {m.handler for m in MESSAGES.values()}
    for module in MODULES:  # a handler-shaped function nobody registered would never be reached
        for name, fn in inspect.getmembers(module, inspect.iscoroutinefunction):
            if fn.__module__ == module.__name__ and not name.startswith("_") and _takes_content(fn):
                assert fn in declared, f"{module.__name__}.{name} looks like a handler but declares no message"


def _takes_content(fn: object) -> bool:
    params = list(inspect.signature(fn).parameters)  # type: ignore[arg-type]
    return params[:2] == ["ctx", "content"]


@pytest.mark.parametrize("kind", sorted(MESSAGES))
def test_each_handlers_content_type_matches_its_schema(kind: str) -> None:
    message = MESSAGES[kind]
    content = get_type_hints(message.handler)["content"]
    hints = get_type_hints(content, include_extras=True)  # keeps NotRequired[...] (string annotations)
    required = {name for name, hint in hints.items() if get_origin(hint) is not NotRequired}
    assert set(hints) == set(message.schema["properties"]), f"{kind}: fields differ from the schema"
    assert required == set(message.schema.get("required", [])), f"{kind}: required fields differ"
    assert get_type_hints(message.handler)["ctx"] is Context


def test_a_message_type_is_declared_once() -> None:
    with pytest.raises(ValueError, match="declared twice"):
        feature = Feature("x")
        feature.message("a", {})(system.ping)
        feature.message("a", {})(system.ping)
    with pytest.raises(ValueError, match="declared by system and copy"):
        copy = Feature("copy")
        copy.message("ping", {})(system.ping)
        features._gather((system.feature, copy))


def test_the_protocol_document_covers_every_frame_type() -> None:
    documented = set(re.findall(r"`([a-z_]+)[` ]", DOC))  # `type` or `type {content}`
    messages = set(MESSAGES)
    replies = {m.reply for m in MESSAGES.values() if m.reply != f"{m.type}_result"}
    pushed = {kind for feature in FEATURES for kind in feature.pushes}
    assert messages - documented == set(), "client messages missing from docs/hub-protocol.md"
    assert replies - documented == set(), "reply frames missing from docs/hub-protocol.md"
    assert pushed - documented == set(), "pushed frames missing from docs/hub-protocol.md"

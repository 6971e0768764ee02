"""Files shared in the hub's chat: `POST /api/attachments` stores one, `GET /api/attachments/{id}` serves it.

An upload is the file itself as the request body (its `Content-Type`, `?name=` the file name), at most
ATTACHMENTS_MAX_BYTES and of a type in ALLOWED. What the bytes really are is read from their start
(`filetype`); a body that is not what it claims is refused, so a script cannot be uploaded as an image.
It lands in the stack's object-store folder (the `media` volume, beside the songs: MEDIA_DIR/attachments),
one object and its metadata side by side, like an object store keeps them. The answer's `attachment`
(`{id, name, size, type}`) is what a hub `chat_message` carries in `attachments`.

A download is for the uploader, and for the members of a channel in which the uploader sent a message
referencing it (the hub's tables in PostgreSQL: hub_messages, hub_members); anyone else gets the same
404 as for an id that does not exist.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any

import psycopg
from fastapi import Path as PathParam
from fastapi import Query, Request
from fastapi.responses import FileResponse
from psycopg.types.json import Jsonb

from spotctl_sandbox.api.docs import ErrorBody, responses
from spotctl_sandbox.api.errors import ApiError
from spotctl_sandbox.api.routing import router as make_router
from spotctl_sandbox.api.security import Account, Res, User
from spotctl_sandbox.common.env import Env

router = make_router("/api", tags=["attachments"], errors=(401, 403))

DEFAULT_MAX_BYTES = 1024 * 1024  # the API's request-body limit too: a bigger file is refused either way
ALLOWED = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "audio/mpeg", "audio/x-wav",
                     "audio/ogg", "application/pdf", "text/plain"})
ALIASES = {"image/jpg": "image/jpeg", "audio/wav": "audio/x-wav", "audio/wave": "audio/x-wav",
           "audio/mp3": "audio/mpeg"}
ID_PATTERN = r"^[0-9a-f]{32}$"
SNIFF_BYTES = 8192


@dataclass(frozen=True)
class Attachment:
    id: str
    name: str
    size: int
    type: str
    owner: str
    sha256: str

    def reference(self) -> dict[str, Any]:
        """What a hub chat_message's `attachments` holds (the hub's ATTACHMENT schema)."""
        return {"id": self.id, "name": self.name, "size": self.size, "type": self.type}


# --- pure rules ---------------------------------------------------------------------------------------

def sniff(head: bytes) -> str | None:
    """The type the bytes show (magic numbers), `text/plain` for UTF-8 text without NULs, else None."""
    import filetype

    found = filetype.guess(head[:SNIFF_BYTES])
    if found is not None:
        return str(found.mime)
    try:
        head[:SNIFF_BYTES].decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head[:SNIFF_BYTES]) - 4:  # not just a character cut at the sniffing boundary
            return None
    return "text/plain" if b"\x00" not in head[:SNIFF_BYTES] else None


def accepted_type(declared: str, data: bytes) -> str:
    """The attachment's type: the declared one, when allowed and what the bytes really are (415 if not)."""
    kind = ALIASES.get(declared.split(";")[0].strip().lower(), declared.split(";")[0].strip().lower())
    if kind not in ALLOWED:
        raise ApiError(415, f"attachments of type {kind or '(none)'!r} are not accepted; send one of "
                            f"{', '.join(sorted(ALLOWED))} as the Content-Type")
    seen = sniff(data)
    if seen != kind:
        raise ApiError(415, f"the file is declared {kind} but its content is {seen or 'not a type we accept'}")
    return kind


def clean_name(name: str) -> str:
    """A file name without folders or control characters (it is sent back in Content-Disposition)."""
    base = re.sub(r"[\x00-\x1f\x7f]", "", name.replace("\\", "/").rsplit("/", 1)[-1]).strip()
    if not base or base in (".", ".."):
        raise ApiError(422, "query.name: must be a file name")
    return base[:255]


# --- the object store: MEDIA_DIR/attachments/<id[:2]>/<id> and <id>.json ------------------------------

class ObjectStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _paths(self, attachment_id: str) -> tuple[Path, Path]:
        folder = self.root / attachment_id[:2]
        return folder / attachment_id, folder / f"{attachment_id}.json"

    def put(self, data: bytes, attachment: Attachment) -> None:
        """The object, then its metadata, each written whole (temp file + rename): an object without
        metadata is never served, and a failed upload leaves neither behind."""
        blob, meta = self._paths(attachment.id)
        blob.parent.mkdir(parents=True, exist_ok=True)
        try:
            _write_atomically(blob, data)
            _write_atomically(meta, json.dumps(asdict(attachment)).encode())
        except BaseException:
            blob.unlink(missing_ok=True)
            meta.unlink(missing_ok=True)
            raise

    def get(self, attachment_id: str) -> tuple[Attachment, Path] | None:
        blob, meta = self._paths(attachment_id)
        try:
            return Attachment(**json.loads(meta.read_text(encoding="utf-8"))), blob
        except (OSError, ValueError, TypeError):
            return None


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def store(res: Any) -> ObjectStore:
    return ObjectStore(Path(res.config.settings.media_dir) / "attachments")


def max_bytes() -> int:
    return Env().integer("ATTACHMENTS_MAX_BYTES", DEFAULT_MAX_BYTES, minimum=1)


# The hub's channel membership (its tables in PostgreSQL): a member of a channel where the uploader sent a
# message referencing the attachment.
SHARED_SQL = """
SELECT 1 FROM hub_messages m JOIN hub_members mb ON mb.channel_id = m.channel_id
WHERE m.user_id = %s AND mb.user_id = %s AND m.attachments @> %s LIMIT 1
"""


async def shared_with(res: Any, attachment: Attachment, user_id: str) -> bool:
    try:
        async with res.pool.connection() as conn:
            cur = await conn.execute(SHARED_SQL, (attachment.owner, user_id, Jsonb([{"id": attachment.id}])))
            return await cur.fetchone() is not None
    except psycopg.errors.UndefinedTable:  # the hub never ran against this database: no channel shares it
        return False


# --- routes -------------------------------------------------------------------------------------------

async def _body(request: Request, limit: int) -> bytes:
    """The request body, refused with a 413 as soon as it passes `limit` (it is never held whole)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"the file is {int(declared)} bytes; attachments are at most {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"the file is over {limit} bytes; attachments are at most {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


UNSUPPORTED: dict[int | str, dict[str, Any]] = {
    415: {"model": ErrorBody, "description": "A type not accepted, or content that is not the declared type"}}
UPLOAD_BODY = {"requestBody": {"required": True, "description": "the file itself, its type as Content-Type",
                               "content": {kind: {"schema": {"type": "string", "format": "binary"}}
                                           for kind in sorted(ALLOWED)}}}


@router.post("/attachments", status_code=201, responses={**responses(413), **UNSUPPORTED}, openapi_extra=UPLOAD_BODY)
async def upload(request: Request, res: Res, user: User,
                 name: Annotated[str, Query(min_length=1, max_length=255, description="the file's name")]
                 ) -> dict[str, Any]:
    """Store a file to share in chat: the raw body, its Content-Type, `?name=`. Answers the `attachment`
    reference to put in a hub `chat_message` and the URL members download it from."""
    filename = clean_name(name)
    data = await _body(request, max_bytes())
    if not data:
        raise ApiError(422, "body: the file is empty")
    kind = accepted_type(request.headers.get("content-type", ""), data)
    attachment = Attachment(id=uuid.uuid4().hex, name=filename, size=len(data), type=kind, owner=user.user_id,
                            sha256=hashlib.sha256(data).hexdigest())
    await asyncio.to_thread(store(res).put, data, attachment)
    return {"attachment": attachment.reference(), "sha256": attachment.sha256,
            "url": f"/api/attachments/{attachment.id}"}


@router.get("/attachments/{attachment_id}", response_class=FileResponse, responses=responses(404))
async def download(res: Res, user: Account,
                   attachment_id: Annotated[str, PathParam(pattern=ID_PATTERN)]) -> FileResponse:
    """The file, for its uploader and the members of a channel it was shared in."""
    found = await asyncio.to_thread(store(res).get, attachment_id)
    if found is not None:
        attachment, blob = found
        if user.user_id == attachment.owner or await shared_with(res, attachment, user.user_id):
            return FileResponse(blob, media_type=attachment.type, filename=attachment.name,
                                headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private"})
    raise ApiError(404, f"no attachment {attachment_id} shared with you")

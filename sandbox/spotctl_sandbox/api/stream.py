"""GET /stream/{song_id}: real audio bytes with HTTP Range (206 + Content-Range, 416 when the range
lies outside the file), behind a signed link from the play endpoint. Range handling is Starlette's
FileResponse (RFC 9110 single and multi ranges, If-Range), except that a Range header it cannot
parse (`bytes=5-2`, `bytes=abc`, `items=0-1`) is ignored — a 200 with the whole body, as RFC 9110
section 14.2 allows — instead of Starlette's plain-text 400."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import Query
from fastapi.responses import FileResponse
from starlette.responses import MalformedRangeHeader

from spotctl_sandbox.api import signing
from spotctl_sandbox.api.docs import responses
from spotctl_sandbox.api.errors import ApiError
from spotctl_sandbox.api.routing import router as make_router
from spotctl_sandbox.api.security import Res
from spotctl_sandbox.api.songs import SongId, require_song

router = make_router(tags=["streaming"], errors=(403, 404))


class AudioResponse(FileResponse):
    @classmethod
    def _parse_range_header(cls, http_range: str, file_size: int) -> list[tuple[int, int]]:
        try:
            return super()._parse_range_header(http_range, file_size)
        except MalformedRangeHeader:
            return []  # no ranges: the whole file


_AUDIO: dict[int | str, dict[str, Any]] = {
    200: {"content": {"audio/wav": {}}, "description": "The whole file"},
    206: {"content": {"audio/wav": {}}, "description": "The requested range(s)"}, **responses(416)}


@router.head("/stream/{song_id}", operation_id="stream_head", responses=_AUDIO)
@router.get("/stream/{song_id}", operation_id="stream_get", responses=_AUDIO)
async def stream(song_id: SongId, res: Res,
                 expires: Annotated[int, Query(ge=0, le=2**62)],
                 signature: Annotated[str, Query(pattern=r"^[0-9a-f]{64}$")]) -> FileResponse:
    try:
        signing.verify(res.config.settings.jwt_secret, song_id, expires, signature, time.time())
    except signing.LinkError as exc:
        raise ApiError(403, str(exc)) from exc
    song, _ = await require_song(res, song_id)
    path = res.config.settings.media_dir / song["audio_path"]
    if not path.is_file():
        raise ApiError(404, f"audio file {song['audio_path']} of song {song_id} is missing from MEDIA_DIR "
                            "(run `spotctl seed`)")
    return AudioResponse(path, media_type=song["mime_type"], headers={"Cache-Control": "private, max-age=3600"})

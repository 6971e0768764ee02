"""GET /stream/{song_id}: real audio bytes with HTTP Range (206 + Content-Range, 416 when the range
lies outside the file), behind a signed link from the play endpoint. Range handling is Starlette's
FileResponse (RFC 9110 single and multi ranges, If-Range)."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse

from spotctl_sandbox.api import signing
from spotctl_sandbox.api.errors import ApiError
from spotctl_sandbox.api.security import Res
from spotctl_sandbox.api.songs import SongId, require_song

router = APIRouter(tags=["streaming"])


@router.api_route("/stream/{song_id}", methods=["GET", "HEAD"])
async def stream(song_id: SongId, res: Res, expires: Annotated[int, Query()],
                 signature: Annotated[str, Query(min_length=64, max_length=64)]) -> FileResponse:
    try:
        signing.verify(res.config.settings.jwt_secret, song_id, expires, signature, time.time())
    except signing.LinkError as exc:
        raise ApiError(403, str(exc)) from exc
    song, _ = await require_song(res, song_id)
    path = res.config.settings.media_dir / song["audio_path"]
    if not path.is_file():
        raise ApiError(404, f"audio file {song['audio_path']} of song {song_id} is missing from MEDIA_DIR "
                            "(run `spotctl seed`)")
    return FileResponse(path, media_type=song["mime_type"], headers={"Cache-Control": "private, max-age=3600"})

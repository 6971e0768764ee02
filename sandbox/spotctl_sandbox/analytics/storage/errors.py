"""The one storage failure callers handle: a backend is unreachable (the API answers 503 naming it)."""

from __future__ import annotations


class StorageUnavailable(Exception):
    def __init__(self, backend: str, detail: str) -> None:
        super().__init__(f"{backend}: {detail}")
        self.backend = backend
        self.detail = detail

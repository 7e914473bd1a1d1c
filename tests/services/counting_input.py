"""A WSGI request body that counts the bytes an app read from it (auth-before-body tests)."""

from __future__ import annotations

import io


class CountingInput(io.BytesIO):
    """A request body that counts how many bytes the app read from it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk

"""Receiving an upload: streamed to a temporary file, refused as soon as it passes the limit."""

from __future__ import annotations

from typing import cast

from django.conf import settings
from django.core.files.uploadhandler import StopUpload, TemporaryFileUploadHandler
from django.http import HttpRequest


def upload_limit_bytes() -> int:
    return settings.MAX_UPLOAD_MB * 1024 * 1024


class RefusedUploadRequest(HttpRequest):
    """A request whose file this handler refused: it carries the reason (the upload page
    reads it with ``getattr``, the attribute being absent otherwise)."""

    upload_refused: str


class SizeLimitedUploadHandler(TemporaryFileUploadHandler):
    """Every file goes to a temporary file (never into memory) and stops being received once
    it passes MAX_UPLOAD_MB; the request then carries ``upload_refused``, the reason."""

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        if start + len(raw_data) > upload_limit_bytes():
            if self.request is not None:
                cast(RefusedUploadRequest, self.request).upload_refused = (
                    f"The file is larger than {settings.MAX_UPLOAD_MB} MB, the most RevTrend "
                    "accepts (MAX_UPLOAD_MB); nothing was stored."
                )
            raise StopUpload(connection_reset=False)  # read and drop the rest, then answer
        return super().receive_data_chunk(raw_data, start)

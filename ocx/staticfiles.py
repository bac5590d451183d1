"""Static files served by the application server itself (embedded mode, `make run`).

WhiteNoise 6 answers with a file response whose content is a *synchronous* file iterator. Under
ASGI Django then warns, for every static file, "StreamingHttpResponse must consume synchronous
iterators in order to serve them asynchronously", and reads the whole file into memory before
sending it. ``WhiteNoiseMiddleware`` below hands Django an asynchronous iterator instead (the file
read chunk by chunk in a worker thread); under WSGI and in the test client nothing changes. The
middleware itself stays synchronous, as the note on settings.MIDDLEWARE asks.

``favicon`` answers ``/favicon.ico`` (every browser asks for it): a redirect to the project's
icon under ``static/ocx/`` when there is one, else 204 — never a 404 logged on each page load.
"""

from __future__ import annotations

from functools import cache

from asgiref.sync import sync_to_async
from django.contrib.staticfiles import finders
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpResponse, HttpResponsePermanentRedirect
from django.templatetags.static import static
from whitenoise.middleware import WhiteNoiseMiddleware as _WhiteNoiseMiddleware

BLOCK_SIZE = 64 * 1024
FAVICONS = ("ocx/favicon.ico", "ocx/favicon.svg", "ocx/favicon.png")


def _chunks(filelike):
    # Not thread-sensitive: a file read must not queue behind the sync views' one thread.
    read = sync_to_async(filelike.read, thread_sensitive=False)

    async def chunks():
        while chunk := await read(BLOCK_SIZE):
            yield chunk

    return chunks()


async def _nothing():
    return
    yield  # pragma: no cover - makes this an (empty) async generator


class WhiteNoiseMiddleware(_WhiteNoiseMiddleware):
    def serve(self, static_file, request):
        response = super().serve(static_file, request)
        if isinstance(request, ASGIRequest) and not response.is_async:
            # The file stays registered for closing (FileResponse did it); HEAD and 304 have none.
            filelike = response.file_to_stream
            response.streaming_content = _chunks(filelike) if filelike is not None else _nothing()
        return response


@cache
def _favicon_name() -> str | None:
    return next((name for name in FAVICONS if finders.find(name)), None)


def favicon(request):
    name = _favicon_name()
    if name is None:
        return HttpResponse(status=204)
    return HttpResponsePermanentRedirect(static(name))

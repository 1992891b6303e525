"""The ASGI application of ``fixgw serve``: Kalshi's REST and WebSocket paths, and /metrics.

Starlette (not FastAPI): routing, a WebSocket endpoint and a thread pool for
the blocking store reads are all this needs, and Starlette is FastAPI's own
core, small (one dependency, anyio) and released steadily; the shapes come
from :mod:`fixgw.models.rest`, so FastAPI's model layer would only duplicate
them. No QuickFIX here: the recorder side is handed in.

Every request except ``/metrics`` is signed the way Kalshi checks it
(:mod:`fixgw.api.auth`); a refusal is HTTP 401 in Kalshi's error body.
"""

from __future__ import annotations

import asyncio
import logging

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from fixgw.api import rest
from fixgw.api.auth import Refusal, Verifier
from fixgw.api.rest import ApiError, Endpoint, Source
from fixgw.api.stream import Hub

log = logging.getLogger("fixgw.api")
WS_PATH = "/trade-api/ws/v2"
MARGIN_WS_PATH = WS_PATH + "/margin"  # Kalshi's margin WebSocket (its own host there; a path here)


def _error(e: ApiError) -> JSONResponse:
    return JSONResponse(e.body(), status_code=e.status)


def _refused(r: Refusal) -> ApiError:
    return ApiError(401, r.code, r.message)


def _rest_route(ep: Endpoint, source: Source, verifier: Verifier) -> Route:
    async def handle(request: Request) -> Response:
        who = verifier.check(request.headers.get, request.method, request.url.path)
        if isinstance(who, Refusal):
            return _error(_refused(who))
        try:
            params = rest.parse(request.query_params, ep.params)
            body = await run_in_threadpool(ep.answer, source, params, **request.path_params)
        except ApiError as e:
            return _error(e)
        except Exception as e:  # noqa: BLE001 - the client gets Kalshi's 500 body, the log the cause
            log.exception("%s %s failed", request.method, request.url.path)
            return _error(ApiError(500, "internal_server_error", f"{type(e).__name__} while answering "
                                   f"{request.url.path}; see the server's log"))
        if isinstance(body, str):  # encoded by the endpoint
            return Response(body, media_type="application/json")
        return JSONResponse(body)
    return Route(rest.PREFIX + ep.path, handle, methods=["GET"])


_RAW_SEND = "fixgw.raw_send"


class _KeepSend:
    """ASGI middleware: a WebSocket scope carries the server's own ``send`` (Starlette wraps the one
    the endpoint sees), for :func:`_frames_writer`."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket":
            scope[_RAW_SEND] = send
        await self.app(scope, receive, send)


BATCH = 256  # frames one client's writer encodes and writes in one go before the others get a turn


def _take(out, n: int) -> list[str]:
    return [out.popleft() for _ in range(min(n, len(out)))]


def _frames_writer(ws: WebSocket):
    """A function writing several text frames to the socket in one ``transport.write``, or None.

    Each frame stays its own WebSocket message (Kalshi's clients parse one JSON per message);
    what is saved is the per-message trip through Starlette, uvicorn and a ``send`` system call,
    which for 100 subscribers was most of the server's CPU during a burst and took the GIL from
    the recorder's writer thread. It needs uvicorn's websockets-sansio protocol (the one
    :mod:`fixgw.api.serve` runs) under the ASGI send; with any other, None, and frames go one
    by one through ``send_text``."""
    proto = getattr(ws.scope.get(_RAW_SEND), "__self__", None)  # uvicorn's protocol: its send is a bound method
    conn, transport = getattr(proto, "conn", None), getattr(proto, "transport", None)
    try:
        from websockets.protocol import OPEN, Protocol
    except ImportError:
        return None
    if not isinstance(conn, Protocol) or transport is None or not hasattr(proto, "close_sent"):
        return None

    def write(texts: list[str]) -> None:
        if proto.close_sent or conn.state is not OPEN or transport.is_closing():
            raise WebSocketDisconnect(1006)  # the peer went away (what send_text would tell)
        for text in texts:
            conn.send_text(text.encode())
        transport.write(b"".join(conn.data_to_send()))
    return write


def _ws_route(hub: Hub, verifier: Verifier, path: str, product: str) -> WebSocketRoute:
    async def handle(ws: WebSocket) -> None:
        who = verifier.check(ws.headers.get, "GET", ws.url.path)
        if isinstance(who, Refusal):
            await ws.send_denial_response(_error(_refused(who)))
            return
        await ws.accept()
        client = hub.attach(asyncio.get_running_loop(), product)

        write = _frames_writer(ws)

        async def writer() -> None:
            while True:
                await client.ready.wait()
                client.ready.clear()
                if write is not None:
                    while client.out:
                        write(_take(client.out, BATCH))
                        await asyncio.sleep(0)  # the other clients' writers, and commands, get their turn
                while client.out:
                    await ws.send_text(client.out.popleft())
                if client.closed is not None:
                    await ws.close(code=1008, reason="subscription buffer overflow")
                    return

        sending = asyncio.create_task(writer())
        try:
            while not sending.done():
                receiving = asyncio.create_task(ws.receive_text())
                done, _ = await asyncio.wait({receiving, sending}, return_when=asyncio.FIRST_COMPLETED)
                if receiving in done:
                    hub.command(client, receiving.result())
                else:
                    receiving.cancel()
        except WebSocketDisconnect:
            pass
        finally:
            hub.detach(client)
            sending.cancel()
            if sending.done() and not sending.cancelled() and sending.exception() is not None:
                log.info("websocket %s: %s", who, sending.exception())  # the peer went away mid-send
    return WebSocketRoute(path, handle)


def build(source: Source, verifier: Verifier, hub: Hub, metrics=None) -> Starlette:
    """The application; ``metrics`` returns the Prometheus text served at /metrics (it may block:
    it runs in the thread pool)."""
    routes: list = [_rest_route(ep, source, verifier) for ep in rest.ENDPOINTS]
    routes.append(_ws_route(hub, verifier, WS_PATH, "event"))
    routes.append(_ws_route(hub, verifier, MARGIN_WS_PATH, "margin"))
    if metrics is not None:
        from prometheus_client import CONTENT_TYPE_LATEST

        async def scrape(request: Request) -> Response:
            return Response(await run_in_threadpool(metrics), media_type=CONTENT_TYPE_LATEST)
        routes.append(Route("/metrics", scrape, methods=["GET"]))

    async def not_found(request: Request, exc: Exception) -> Response:
        return _error(ApiError(404, "not_found", f"no endpoint {request.method} {request.url.path} here"))
    return Starlette(routes=routes, exception_handlers={404: not_found, 405: not_found},
                     middleware=[Middleware(_KeepSend)])

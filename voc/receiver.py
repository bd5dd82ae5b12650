"""``voc receive``: the webhook receiver (Starlette, served by uvicorn).

One endpoint per platform, ``/webhooks/{whatsapp,messenger,rcs,gbm}``. A request is checked (size,
signature, shape), its messages made private (``pipeline.webhooks.protect``) and landed; the platform
gets 200 only once the landing transaction is committed, so an acknowledged message is never lost,
and a platform that sees an error retries (redeliveries are no-ops, keyed by message id).

Landing goes through one writer thread that commits what many requests handed it in one transaction
(group commit): a burst costs one fsync per batch, not per message, and requests never contend for
the file. A body with a bad signature gets 401 and a log line and is never stored; an endpoint whose
secret is not configured refuses everything (404), so nothing unsigned is ever accepted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import queue
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from pipeline.privacy import Privacy
from pipeline.webhooks.events import Inbound, PayloadError
from pipeline.webhooks.google import gbm_events, is_verification, rcs_events, rcs_user_event
from pipeline.webhooks.landing import Landing
from pipeline.webhooks.messenger import messenger_events
from pipeline.webhooks.protect import protect
from pipeline.webhooks.signatures import google_signature_ok, meta_signature_ok, same_secret
from pipeline.webhooks.whatsapp import whatsapp_events
from voc.config import SIGNING_SECRETS, Settings

log = logging.getLogger("voc.receiver")


class Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


class GroupWriter:
    """The one thread that writes the landing file, a batch of waiting requests per transaction."""

    def __init__(self, landing: Landing, privacy: Privacy, max_batch: int = 512) -> None:
        self.landing, self.privacy, self.max_batch = landing, privacy, max_batch
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="voc-landing", daemon=True)

    def start(self) -> None:
        self.landing.connect().close()  # create the file and tables before the first request
        self.privacy.redact_names(["Warm up, Paul.", "Bonjour Paul."], [None, None])  # load models now
        self._thread.start()

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=60)

    async def write(self, events: list[Inbound]) -> tuple[int, int]:
        """(new, duplicates) once ``events`` are committed; raises if they could not be."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future = loop.create_future()
        self._queue.put((events, done, loop))
        return await done

    def _run(self) -> None:
        con = self.landing.connect()
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                break
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            self._commit(con, batch)
        con.close()

    def _commit(self, con, batch: list) -> None:
        try:
            rows = protect([e for events, _, _ in batch for e in events], self.privacy)
            new = self.landing.land(con, rows, datetime.now(UTC))
        except Exception as exc:  # the disk, the file: every waiting request answers 503 and is retried
            if len(batch) > 1:  # one request's events must not fail the others: each on its own
                for item in batch:
                    self._commit(con, [item])
                return
            log.exception("landing failed")
            for _, done, loop in batch:
                loop.call_soon_threadsafe(_settle, done, None, exc)
            return
        start = 0
        for events, done, loop in batch:
            mine = new[start : start + len(events)]
            start += len(events)
            loop.call_soon_threadsafe(_settle, done, (sum(mine), len(mine) - sum(mine)), None)


def _settle(done: asyncio.Future, result: Any, exc: BaseException | None) -> None:
    if done.done():  # the client went away; what was committed stays committed
        return
    if exc is not None:
        done.set_exception(exc)
    else:
        done.set_result(result)


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise Refused(413, f"body of {int(declared):,} bytes is over the {limit:,}-byte limit")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise Refused(413, f"body is over the {limit:,}-byte limit")
    return bytes(body)


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise Refused(400, f"body is not JSON: {exc}") from None


def _normalised(platform: str, normalise: Callable, *args) -> list[Inbound]:
    try:
        return normalise(*args)
    except (AttributeError, TypeError) as exc:  # a field of the wrong JSON type
        raise Refused(400, f"malformed {platform} webhook: {exc}") from None


def create_app(settings: Settings, privacy: Privacy) -> Starlette:
    """The receiver for ``settings`` (secrets, accounts, landing file); ``privacy`` as ingest's."""
    hooks = settings.webhooks
    landing = Landing(settings.landing_path, timedelta(hours=settings.conversation_gap_hours))
    writer = GroupWriter(landing, privacy)
    accounts = tuple(hooks.business_accounts)
    limit = hooks.max_body_bytes

    def refuse(platform: str, request: Request, refused: Refused) -> Response:
        host = request.client.host if request.client else "?"
        if refused.status == 401:
            log.warning("%s webhook from %s refused: %s", platform, host, refused.reason)
        return JSONResponse({"error": refused.reason}, status_code=refused.status)

    def meta_handshake(platform: str) -> Callable:
        token = hooks.secret(f"{platform}_verify_token")

        async def handshake(request: Request) -> Response:
            q = request.query_params
            if token is None:
                return PlainTextResponse(f"{platform} webhooks are not configured", status_code=404)
            if q.get("hub.mode") == "subscribe" and same_secret(token, q.get("hub.verify_token")):
                return PlainTextResponse(q.get("hub.challenge", ""))
            return PlainTextResponse("verification failed", status_code=403)

        return handshake

    def endpoint(platform: str, parse: Callable) -> Callable:
        """A POST endpoint: refused (404) without its signing secret; ``parse(request, secret, body)``
        returns the messages to land, or a response of its own (a set-up request); every refusal is a
        4xx with its reason; the 200 comes once the messages are committed (503 if they cannot be)."""
        setting = SIGNING_SECRETS[platform]
        secret = hooks.secret(setting)

        async def receive(request: Request) -> Response:
            try:
                if secret is None:
                    raise Refused(404, f"{platform} webhooks are not configured (webhooks.{setting})")
                parsed = parse(request, secret, await _body(request, limit))
            except Refused as refused:
                return refuse(platform, request, refused)
            except PayloadError as exc:
                return refuse(platform, request, Refused(400, str(exc)))
            if isinstance(parsed, Response):
                return parsed
            try:
                new, duplicates = await writer.write(parsed) if parsed else (0, 0)
            except Exception as exc:
                return JSONResponse({"error": f"not stored, retry: {type(exc).__name__}"}, status_code=503)
            return JSONResponse({"received": len(parsed), "new": new, "duplicates": duplicates})

        return receive

    def meta_parse(platform: str, normalise: Callable) -> Callable:
        def parse(request: Request, secret: str, body: bytes) -> list[Inbound]:
            if not meta_signature_ok(secret, body, request.headers.get("x-hub-signature-256")):
                raise Refused(401, "bad or missing X-Hub-Signature-256")
            return _normalised(platform, normalise, _json(body), accounts)

        return parse

    def google_parse(platform: str) -> Callable:
        def parse(request: Request, token: str, body: bytes) -> list[Inbound] | Response:
            payload = _json(body)
            if is_verification(payload):  # set-up: answer the secret to prove we hold the token
                if not same_secret(token, payload.get("clientToken")):
                    raise Refused(403, "clientToken does not match")
                return PlainTextResponse(str(payload.get("secret")))
            event, signed = rcs_user_event(payload) if platform == "rcs" else (payload, body)
            if not google_signature_ok(token, signed, request.headers.get("x-goog-signature")):
                raise Refused(401, "bad or missing X-Goog-Signature")
            return _normalised(platform, rcs_events if platform == "rcs" else gbm_events, event)

        return parse

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "landing": str(settings.landing_path)})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        writer.start()
        try:
            yield
        finally:
            await asyncio.to_thread(writer.stop)

    routes = []
    for platform, normalise in (("whatsapp", whatsapp_events), ("messenger", messenger_events)):
        routes += [
            Route(f"/webhooks/{platform}", meta_handshake(platform), methods=["GET"]),
            Route(
                f"/webhooks/{platform}", endpoint(platform, meta_parse(platform, normalise)), methods=["POST"]
            ),
        ]
    routes += [
        Route(f"/webhooks/{platform}", endpoint(platform, google_parse(platform)), methods=["POST"])
        for platform in ("rcs", "gbm")
    ]
    routes.append(Route("/healthz", health, methods=["GET"]))
    return Starlette(routes=routes, lifespan=lifespan)

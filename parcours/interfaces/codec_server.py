"""The codec server: lets the Temporal Web UI and CLI show decrypted payloads to staff.

`POST /codec/encode` and `POST /codec/decode` take and return `{"payloads": [...]}` in the
protobuf JSON form the UI and `temporal --codec-endpoint` speak (after temporalio/samples-python
`encryption/codec_server.py`). Whoever can call `/decode` can read every case, so each call
needs `Authorization: Bearer <token>` with one of the tokens of `PARCOURS_CODEC_TOKEN`
(comma-separated, so a token can rotate without downtime). CORS answers only the configured
UI origins.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Sequence

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from temporalio.api.common.v1 import Payloads

from parcours.infrastructure.codec import CodecKey, CodecKeyError
from parcours.infrastructure.payload_codec import EncryptionCodec

logger = logging.getLogger("parcours.infrastructure.codec")

MAX_BODY = 4 * 1024 * 1024
ALLOWED_HEADERS = "authorization,content-type,x-namespace"


def tokens_of(spec: str | None) -> list[str]:
    return [t.strip() for t in (spec or "").split(",") if t.strip()]


def build_codec_app(
    keys: Sequence[CodecKey], tokens: Sequence[str], origins: Sequence[str]
) -> Starlette:
    if not tokens:
        # An open decode endpoint would undo the encryption: refuse to run without a token.
        raise CodecKeyError.of("codec_token_missing")
    codec = EncryptionCodec(keys)
    allowed = [t.encode() for t in tokens]
    origin_set = set(origins)

    def cors(request: Request, response: Response) -> Response:
        origin = request.headers.get("origin")
        if origin and origin in origin_set:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
            response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
            response.headers["Access-Control-Allow-Credentials"] = "true"
            response.headers["Vary"] = "Origin"
        return response

    def authorized(request: Request) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return False
        # Constant-time comparison: the token is the only thing between a caller and the data.
        return any(hmac.compare_digest(token.strip().encode(), t) for t in allowed)

    async def preflight(request: Request) -> Response:
        return cors(request, Response(status_code=204))

    async def apply(request: Request, decode: bool) -> Response:
        if not authorized(request):
            logger.warning("codec: unauthorized %s from %s", request.url.path, _peer(request))
            return cors(request, PlainTextResponse("unauthorized", status_code=401))
        body = await request.body()
        if len(body) > MAX_BODY:
            return cors(request, PlainTextResponse("payloads too large", status_code=413))
        try:
            payloads = json_format.Parse(body, Payloads())
        except (json_format.ParseError, DecodeError, UnicodeDecodeError):
            return cors(request, PlainTextResponse("expected {payloads: [...]}", 400))
        try:
            if decode:
                out = await codec.decode(payloads.payloads)
            else:
                out = await codec.encode(payloads.payloads)
        except CodecKeyError as err:
            return cors(request, PlainTextResponse(str(err), status_code=422))
        result = json_format.MessageToDict(Payloads(payloads=out))
        return cors(request, JSONResponse(result))

    async def encode(request: Request) -> Response:
        return await apply(request, decode=False)

    async def decode(request: Request) -> Response:
        return await apply(request, decode=True)

    async def health(_: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(
        routes=[
            Route("/codec/encode", encode, methods=["POST"]),
            Route("/codec/decode", decode, methods=["POST"]),
            Route("/codec/encode", preflight, methods=["OPTIONS"]),
            Route("/codec/decode", preflight, methods=["OPTIONS"]),
            Route("/healthz", health, methods=["GET"]),
        ]
    )


def _peer(request: Request) -> str:
    return request.client.host if request.client else "?"

"""The payload codec: AES-GCM, key ids, rotation; the codec server's authentication."""

from __future__ import annotations

import base64
import json

import httpx
import pytest
from temporalio.api.common.v1 import Payload
from temporalio.converter import DataConverter

from parcours.infrastructure.codec import (
    CodecKeyError,
    ensure_key_file,
    keyring,
    new_key,
    parse_keys,
    read_key_file,
)
from parcours.infrastructure.config import Settings
from parcours.infrastructure.payload_codec import (
    ENCODING,
    KEY_ID_METADATA,
    EncryptionCodec,
    data_converter,
)
from parcours.interfaces.codec_server import build_codec_app

SECRET = "Amina Diallo <amina@example.org>"


def plain(text: str) -> Payload:
    return DataConverter.default.payload_converter.to_payloads([text])[0]


async def test_round_trip_and_nothing_plain() -> None:
    codec = EncryptionCodec([new_key("k1")])
    [sealed] = await codec.encode([plain(SECRET)])
    assert sealed.metadata["encoding"] == ENCODING
    assert sealed.metadata[KEY_ID_METADATA] == b"k1"
    assert b"Amina" not in sealed.SerializeToString()
    [opened] = await codec.decode([sealed])
    assert opened == plain(SECRET)


async def test_rotation_newest_encrypts_all_decrypt() -> None:
    old, new = new_key("2024"), new_key("2025")
    [under_old] = await EncryptionCodec([old]).encode([plain(SECRET)])
    rotated = EncryptionCodec([new, old])
    [under_new] = await rotated.encode([plain(SECRET)])
    assert under_new.metadata[KEY_ID_METADATA] == b"2025"
    assert await rotated.decode([under_old, under_new]) == [plain(SECRET)] * 2
    with pytest.raises(CodecKeyError, match="not in the keyring"):
        await EncryptionCodec([new]).decode([under_old])


async def test_tampering_and_key_id_swap_are_refused() -> None:
    a, b = new_key("a"), new_key("b")
    codec = EncryptionCodec([a, b])
    [sealed] = await codec.encode([plain(SECRET)])
    flipped = Payload()
    flipped.CopyFrom(sealed)
    flipped.data = sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])
    with pytest.raises(CodecKeyError, match="does not authenticate"):
        await codec.decode([flipped])
    relabelled = Payload()
    relabelled.CopyFrom(sealed)
    relabelled.metadata[KEY_ID_METADATA] = b"b"
    with pytest.raises(CodecKeyError):
        await codec.decode([relabelled])


async def test_unencrypted_payloads_still_decode() -> None:
    # Histories written before encryption was turned on stay readable.
    codec = EncryptionCodec([new_key("k1")])
    assert await codec.decode([plain("x")]) == [plain("x")]


def test_key_specs(tmp_path) -> None:
    k = new_key("k1")
    assert parse_keys(f"{k.spec()}, {new_key('k0').spec()}")[0] == k
    for bad, why in [
        ("", "no key"),
        ("k1", "not 'key-id:base64-key'"),
        ("k1:!!!", "not valid base64"),
        (f"k1:{base64.b64encode(b'short').decode()}", "AES-256 needs 32"),
        (f"{k.spec()},{k.spec()}", "appears twice"),
    ]:
        with pytest.raises(CodecKeyError, match=why) as info:
            parse_keys(bad)
        assert k.spec().split(":")[1] not in str(info.value)  # never echo a key
    path = tmp_path / "codec.keys"
    assert ensure_key_file(path) and not ensure_key_file(path)
    assert path.stat().st_mode & 0o077 == 0
    assert read_key_file(path)[0].key_id == "local-1"
    # The dev stack's key file is picked up from the data dir by every process.
    assert keyring(Settings.from_env({"PARCOURS_DATA_DIR": str(tmp_path)})) == read_key_file(path)
    assert keyring(Settings.from_env({"PARCOURS_CODEC_KEYS": k.spec()})) == [k]
    assert data_converter([]) is DataConverter.default


async def test_codec_server_requires_a_token_and_answers_the_ui_origin() -> None:
    key = new_key("k1")
    with pytest.raises(CodecKeyError, match="PARCOURS_CODEC_TOKEN"):
        build_codec_app([key], [], [])
    app = build_codec_app([key], ["s3cret", "next"], ["http://ui.example"])
    sealed = (await EncryptionCodec([key]).encode([plain(SECRET)]))[0]
    from google.protobuf import json_format
    from temporalio.api.common.v1 import Payloads

    body = json_format.MessageToJson(Payloads(payloads=[sealed]))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://codec") as http:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}):
            r = await http.post("/codec/decode", content=body, headers=headers)
            assert r.status_code == 401
            assert "Amina" not in r.text
        r = await http.post(
            "/codec/decode",
            content=body,
            headers={"Authorization": "Bearer next", "Origin": "http://ui.example"},
        )
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == "http://ui.example"
        decoded = json_format.Parse(r.content, Payloads()).payloads[0]
        assert json.loads(decoded.data) == SECRET
        r = await http.options("/codec/decode", headers={"Origin": "http://evil.example"})
        assert "access-control-allow-origin" not in r.headers
        r = await http.options("/codec/decode", headers={"Origin": "http://ui.example"})
        assert "authorization" in r.headers["access-control-allow-headers"]
        auth = {"Authorization": "Bearer next"}
        r = await http.post("/codec/encode", content="junk", headers=auth)
        assert r.status_code == 400

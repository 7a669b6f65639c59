"""A CLI that answers at once: what each kind of command imports before it does anything.

The timings themselves are the bench's (`python -m bench --scenarios cli`); here only the
imports are checked, which do not depend on the machine: the parser and `--help` import no
heavy library, a read-model command no Temporal SDK, cipher or web stack. Each check runs in
a fresh interpreter, since this test process has long imported everything.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from parcours.infrastructure.worker import DEFAULT_CACHE
from parcours.interfaces.cli.main import build_parser

REPO = Path(__file__).resolve().parents[2]
HEAVY = (
    "alembic",
    "aiosqlite",
    "babel",  # the catalogue imports it only to format a number or a date
    "cryptography",
    "fastapi",
    "google",  # protobuf, under the Temporal SDK
    "jinja2",
    "pydantic",
    "sqlalchemy",
    "starlette",
    "temporalio",
    "uvicorn",
    "activities",
    "workflows",
)
# A read model already at the newest schema is not migrated: no Alembic either.
READ_MODEL = ("aiosqlite", "sqlalchemy")

# Runs one command in-process, then prints which of HEAVY it imported.
PROBE = """
import asyncio, io, json, sys
from parcours.interfaces.cli.main import amain
out, err = io.StringIO(), io.StringIO()
code = asyncio.run(amain(sys.argv[1:], out=out, err=err))
heavy = sorted({m.split(".")[0] for m in sys.modules} & set(json.loads(HEAVY)))
print(json.dumps({"code": code, "heavy": heavy, "err": err.getvalue()}))
"""


def probe(*argv: str, data_dir: Path | None = None) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARCOURS_")}
    if data_dir is not None:
        env["PARCOURS_DATA_DIR"] = str(data_dir)
    proc = subprocess.run(
        [sys.executable, "-c", PROBE.replace("HEAVY", repr(json.dumps(HEAVY))), *argv],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def test_the_whole_parser_and_its_help_import_nothing_heavy() -> None:
    """Every command's parser is built and every help page written, in one process."""
    script = """
import argparse, json, sys
from parcours.interfaces.cli.main import build_parser

def walk(parser):
    parser.format_help()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                if name != "worker":  # its help quotes the worker's defaults: see below
                    walk(sub)

walk(build_parser())
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
"""
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    loaded = set(json.loads(proc.stdout))
    assert sorted(loaded & set(HEAVY)) == []


def test_top_level_help_imports_nothing_heavy() -> None:
    result = probe("--help")
    assert result["code"] == 0
    assert result["heavy"] == []


@pytest.mark.parametrize(
    "argv",
    [("officers", "list", "--json"), ("caseload", "--json"), ("find", "Diallo", "--json")],
    ids=["officers", "caseload", "find"],
)
def test_a_read_model_command_imports_no_temporal_cipher_or_web(
    argv: tuple[str, ...], tmp_path: Path
) -> None:
    assert probe(*argv, data_dir=tmp_path)["code"] == 0  # creates and migrates the read model
    result = probe(*argv, data_dir=tmp_path)
    assert result["code"] == 0, result["err"]
    assert sorted(set(result["heavy"]) - set(READ_MODEL)) == []


@pytest.mark.parametrize(
    ("lang", "words"),
    [("en", "workflow cache size, default"), ("fr", "taille du cache de workflows, par défaut")],
)
def test_worker_help_quotes_the_cache_default_the_worker_uses(lang: str, words: str) -> None:
    parser = build_parser(lang)
    [commands] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    text = " ".join(commands.choices["worker"].format_help().split())
    assert f"PARCOURS_WORKER_CACHE ({words} {DEFAULT_CACHE}" in text

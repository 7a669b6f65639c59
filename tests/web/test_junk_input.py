"""Bad input end to end, against a real `parcours dev`: a generated import file of good and
junk rows through the real `parcours import`, generated API bodies, and hostile names and
notes, which must come out escaped in the emails and the console's pages."""

from __future__ import annotations

import email
import email.policy
import json
from email.message import EmailMessage
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import cast

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.properties.strategies import Approval, approvals, new_dossier
from tests.properties.test_import_rows import write_csv, write_jsonl
from tests.web.conftest import WebStack, approval, reader, sign_in, start_cases, wait_for

SLOW = settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


def auth(stack: WebStack) -> dict[str, str]:
    return {"Authorization": f"Bearer {stack.token}"}


def case_status(stack: WebStack, dossier: str) -> int:
    r = httpx.get(f"{stack.url}/api/v1/cases/{dossier}", headers=reader(stack), timeout=30)
    return r.status_code


def test_import_of_junk_starts_every_good_row_and_only_those(web_stack: WebStack) -> None:
    @SLOW
    @given(st.lists(approvals, min_size=1, max_size=8), st.booleans())
    def run(written: list[Approval], as_csv: bool) -> None:
        with TemporaryDirectory() as tmp:
            path = Path(tmp) / ("approvals.csv" if as_csv else "approvals.jsonl")
            (write_csv if as_csv else write_jsonl)(path, written)
            done = web_stack.cli("import", str(path), "--json")
        assert "Traceback" not in done.stderr, done.stderr[-2000:]
        any_junk = not all(a.good for a in written)
        assert done.returncode == (1 if any_junk else 0), done.stderr
        lines = [json.loads(x) for x in done.stdout.splitlines()]
        assert len(lines) == len(written)
        for line, a in zip(lines, written, strict=True):
            if a.good:
                assert (line["dossier"], line["result"]) == (a.dossier, "started"), line
                assert case_status(web_stack, a.dossier) == 200
            else:
                assert line["result"] == "rejected" and line["reason"], line
                if a.breaks != "dossier":  # nothing half-written for a rejected row
                    assert case_status(web_stack, a.dossier) == 404

    run()


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=12,
)


def test_api_answers_junk_item_by_item(web_stack: WebStack) -> None:
    @SLOW
    @given(
        st.lists(
            st.one_of(approvals, _json.map(lambda j: Approval({"j": j}, good=False))),
            min_size=1,
            max_size=6,
        )
    )
    def run(items: list[Approval]) -> None:
        body = [a.fields["j"] if set(a.fields) == {"j"} else a.fields for a in items]
        r = httpx.post(
            f"{web_stack.url}/api/v1/visa-approvals", json=body, headers=auth(web_stack), timeout=60
        )
        # 422 when no item could be opened (the body still answers each one).
        assert r.status_code == (200 if any(a.good for a in items) else 422), r.text[:500]
        results = r.json()["results"]
        assert [x["index"] for x in results] == list(range(len(items)))
        for result, a in zip(results, items, strict=True):
            if a.good:
                assert result["result"] == "started", result
            else:
                assert result["result"] == "rejected" and result["errors"], result
                if a.breaks:
                    assert a.breaks in result["errors"], (a.breaks, result["errors"])

    run()


def test_api_refuses_a_huge_body_unread(web_stack: WebStack) -> None:
    url = f"{web_stack.url}/api/v1/visa-approvals"
    huge = b'[{"dossier": "BIG-1", "name": "' + b"x" * (5 * 1024 * 1024) + b'"}]'
    r = httpx.post(
        url,
        content=huge,
        headers={**auth(web_stack), "Content-Type": "application/json"},
        timeout=60,
    )
    assert r.status_code == 413 and "larger than 4 MB" in r.json()["detail"]

    def chunks():  # no Content-Length: the limit holds while streaming
        for _ in range(6):
            yield b" " * (1024 * 1024)

    r = httpx.post(
        url,
        content=chunks(),
        headers={**auth(web_stack), "Content-Type": "application/json"},
        timeout=60,
    )
    assert r.status_code == 413
    for body in (b"\xff\xfe\x00junk", "é".encode("latin-1"), b'{"dossier": "\xff"}'):
        r = httpx.post(
            url, content=body, headers={**auth(web_stack), "Content-Type": "application/json"}
        )
        assert r.status_code == 422, (body, r.text)


def test_hostile_names_and_notes_come_out_escaped(web_stack: WebStack) -> None:
    marker = "<script>alert('x')</script>"
    jinja = "{{ 7*7 }}"
    name = f"{marker} {jinja} Amina"
    d = new_dossier()
    [result] = start_cases(
        web_stack, approval(d, name=name, email="amina@example.org", language="en")
    )
    assert result["result"] == "started", result

    # The welcome email: the HTML part escapes the name, the text part keeps it as written.
    wait_for(lambda: bool(_welcome(web_stack, name)), timeout=60)
    mail = _welcome(web_stack, name)[0]
    html = mail.get_body(("html",))
    text = mail.get_body(("plain",))
    assert html is not None and text is not None
    html_content, text_content = html.get_content(), text.get_content()
    assert marker not in html_content
    assert "&lt;script&gt;" in html_content
    # Never evaluated as a template: the braces come out as typed in both parts.
    assert jinja in html_content and jinja in text_content
    assert name in text_content
    for header in ("Subject", "To", "From"):
        assert "\n" not in str(mail[header]) and "\r" not in str(mail[header])

    # The console's case page and caseload, as the region's supervisor sees them.
    view = httpx.get(
        f"{web_stack.url}/api/v1/cases/{d}", headers=reader(web_stack), timeout=30
    ).json()
    officer = view["officer"]
    assert officer
    note = f'{marker} <img src=x onerror="alert(2)"> {jinja}'
    done = web_stack.cli("progress", d, "--by", officer, "--note", note)
    assert done.returncode == 0, done.stderr
    with httpx.Client(base_url=web_stack.url, timeout=30) as c:
        signed = sign_in(c, "nbouchard")
        assert signed.status_code == 303, signed.text[:300]

        def page_has_note() -> bool:
            return "onerror" in c.get(f"/cases/{d}").text

        wait_for(page_has_note, timeout=30)
        page = c.get(f"/cases/{d}").text
        assert marker not in page and "<img src=x" not in page
        assert "&lt;script&gt;" in page and "&lt;img src=x" in page
        # Shown as typed, never evaluated: the template text itself is on the page.
        assert jinja in page
        assert ">49<" not in page and " 49 " not in page
        caseload = c.get("/cases").text
        assert marker not in caseload


def _welcome(stack: WebStack, name: str) -> list[EmailMessage]:
    out = []
    for path in sorted((stack.data_dir / "mail").glob("*.eml")):
        m = cast(
            EmailMessage, email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        )
        body = m.get_body(("plain",))
        if body is not None and name in body.get_content():
            out.append(m)
    return out


def test_api_bodies_json_cannot_parse_or_should_not(web_stack: WebStack) -> None:
    url = f"{web_stack.url}/api/v1/visa-approvals"
    as_json = {**auth(web_stack), "Content-Type": "application/json"}
    cases = {
        b"[" + b"1" * 5000 + b"]": "number too long",
        b"[" * 100_000: "nested too deeply",
        '[{"dossier": "U16"}]'.encode("utf-16"): "not UTF-8",
    }
    for body, why in cases.items():
        r = httpx.post(url, content=body, headers=as_json, timeout=30)
        assert r.status_code == 422 and why in r.json()["detail"], (body[:20], r.text[:200])
    r = httpx.post(url, data={"dossier": "F-1"}, headers=auth(web_stack))
    assert r.status_code == 415
    # A rejected item's dossier is echoed only when it is a dossier number.
    r = httpx.post(url, json=[{"dossier": "<b>x</b>" * 100}], headers=auth(web_stack))
    assert r.status_code == 422 and r.json()["results"][0]["dossier"] is None

"""Property: whatever key-shaped value a client or server puts wherever it can, none reaches a file or the output.

Hypothesis generates OpenAI keys, project keys, Azure keys, bearer tokens,
organization and project ids and cookies, and places them in request headers
(Authorization, api-key, OpenAI-Organization, OpenAI-Project, a custom
header), the query string and response headers (Set-Cookie,
openai-organization, any ``x-`` header). A real recording run through the
``openai`` client follows; no cassette, report or line of output may contain
any of them, and ``promptdrift scan`` must find nothing.

``PROMPTDRIFT_STRESS=1`` runs 100 examples instead of the default 8.
"""

from __future__ import annotations

import os
import shutil
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promptdrift.cli.scan import scan
from promptdrift.testing.demo import DemoServer
from tests.helpers import token, write

EXAMPLES = 100 if os.environ.get("PROMPTDRIFT_STRESS") else 8
ALNUM = string.ascii_letters + string.digits
URLSAFE = ALNUM + "-_"


SECRETS = st.fixed_dictionaries(
    {
        "openai_key": st.one_of(token("sk-", ALNUM, 32, 48), token("sk-proj-", URLSAFE, 48, 80)),
        "azure_key": st.text("0123456789abcdef", min_size=32, max_size=32),
        "organization": token("org-", ALNUM, 24, 24),
        "project": token("proj_", ALNUM, 24, 24),
        "custom_header": token("tok_", URLSAFE, 24, 40),
        "query_key": token("sk-", ALNUM, 32, 40),
        "bearer": token("", URLSAFE, 30, 60),
        "cookie": token("", URLSAFE, 20, 40),
        "response_org": token("org-", ALNUM, 24, 24),
        "response_x": token("sess_", ALNUM, 20, 40),
    }
)

CODE_FIRST = """
import os


def test_custom_header_and_query(openai_client):
    client = openai_client.with_options(
        default_headers={"X-Internal-Token": os.environ["T_CUSTOM"], "Proxy-Authorization": "Bearer " + os.environ["T_BEARER"]},
        default_query={"key": os.environ["T_QUERY"]},
    )
    reply = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "late?"}])
    assert "sorry" in reply.choices[0].message.content
"""


def azure_suite(endpoint: str) -> str:
    return f"""
suite: azure
model: gpt-4o-mini
provider:
  api_key_env: T_AZURE_KEY
  azure: {{endpoint: "{endpoint}", deployment: support, api_version: "2024-10-21"}}
prompt: {{user: "{{{{ q }}}}"}}
cases: [{{id: late, vars: {{q: "my order is late"}}, expect: [{{contains: sorry}}]}}]
"""


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(secrets=SECRETS)
def test_no_generated_secret_reaches_a_cassette_report_or_output(
    pytester: pytest.Pytester, demo: DemoServer, monkeypatch: pytest.MonkeyPatch, support_suite, secrets: dict[str, str]
) -> None:
    shutil.rmtree(pytester.path / "cassettes", ignore_errors=True)
    write(pytester, "suites/azure.yaml", azure_suite(demo.base_url.removesuffix("/v1")))
    write(pytester, "tests/test_code_first.py", CODE_FIRST)
    for name, value in {
        "OPENAI_API_KEY": secrets["openai_key"],
        "OPENAI_ORG_ID": secrets["organization"],
        "OPENAI_PROJECT_ID": secrets["project"],
        "T_AZURE_KEY": secrets["azure_key"],
        "T_CUSTOM": secrets["custom_header"],
        "T_QUERY": secrets["query_key"],
        "T_BEARER": secrets["bearer"],
    }.items():
        monkeypatch.setenv(name, value)
    demo.extra_headers = {
        "set-cookie": f"__Secure-session={secrets['cookie']}; path=/; HttpOnly",
        "openai-organization": secrets["response_org"],
        "x-session-token": secrets["response_x"],
    }
    demo.requests.clear()
    result = pytester.runpytest(
        "--prompt-record=new",
        "suites",
        "tests",
        "--prompt-report=out/report.md",
        "--prompt-report=out/report.json",
        "--prompt-report=out/report.html",
        "--log-level=DEBUG",
        "-o",
        "log_cli=true",
        "--log-cli-level=WARNING",
        "-rA",
    )
    result.assert_outcomes(passed=4)
    # The values really travelled: the server saw every one of the request-side ones.
    seen = repr(demo.requests)
    for name in ("openai_key", "azure_key", "organization", "project", "custom_header", "query_key", "bearer"):
        assert secrets[name] in seen, name
    written = [p.read_text(encoding="utf-8") for p in sorted((pytester.path / "cassettes").rglob("*.yaml"))]
    written += [p.read_text(encoding="utf-8") for p in sorted((pytester.path / "out").iterdir())]
    assert len(written) == 4 + 3
    everything = "\n".join([*written, result.stdout.str(), result.stderr.str()])
    for name, value in secrets.items():
        assert value not in everything, f"{name} leaked"
    assert scan([pytester.path / "cassettes"]) == []

"""The replay benchmark's reference: plain pytest, the same three checks, answers from one JSON file.

``benchmarks/run.py`` points ``PROMPTDRIFT_BENCH_ANSWERS`` at the JSON file it
generated (one answer per case, the same answers its cassettes hold) and
``PROMPTDRIFT_BENCH_SCHEMA`` at the schema; each answer is one test.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import pytest

ANSWERS = json.loads(Path(os.environ["PROMPTDRIFT_BENCH_ANSWERS"]).read_text(encoding="utf-8"))
SCHEMA = json.loads(Path(os.environ["PROMPTDRIFT_BENCH_SCHEMA"]).read_text(encoding="utf-8"))
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


@pytest.mark.parametrize("answer", ANSWERS, ids=[f"c{i:05d}" for i in range(len(ANSWERS))])
def test_answer(answer: str) -> None:
    VALIDATOR.validate(json.loads(answer))  # schema
    assert "order" in answer  # contains
    assert answer.count("!") <= 1  # tone limit: exclamations

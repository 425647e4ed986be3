"""Retrieval context: the documents a case's prompt gets, all of them or the BM25 top k for its query.

Ranking uses ``bm25s`` (the ``retrieval`` extra), imported only when a suite
asks for ``top_k``. The chosen documents become the template variables
``context`` (their texts, each headed by its path) and ``documents`` (a list
of ``{name, text}`` for templates that lay them out themselves). Retrieval is
deterministic, so the rendered prompt (and the request fingerprint) is the
same on every run; a changed document shows as prompt drift.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from promptdrift.core.errors import ConfigError
from promptdrift.suite.model import Document, Retrieval
from promptdrift.text import templating


def retrieve(spec: Retrieval, variables: Mapping[str, Any], *, where: str, path: str) -> tuple[Document, ...]:
    """The documents for one case: all, or the ``top_k`` best for the rendered ``query``."""
    if spec.top_k is None or spec.top_k >= len(spec.documents):
        return spec.documents
    assert spec.query is not None  # the suite reader requires a query with top_k
    query = templating.render(spec.query, variables, where=f"{where}, context.query", path=path)
    return tuple(spec.documents[i] for i in _ranked(spec.documents, query, spec.top_k))


def context_variables(spec: Retrieval, variables: Mapping[str, Any], *, where: str, path: str) -> dict[str, Any]:
    """``context`` and ``documents`` for the prompt template."""
    chosen = retrieve(spec, variables, where=where, path=path)
    return {
        "context": spec.separator.join(f"[{doc.name}]\n{doc.text}" for doc in chosen),
        "documents": [{"name": doc.name, "text": doc.text} for doc in chosen],
    }


def _ranked(documents: tuple[Document, ...], query: str, k: int) -> list[int]:
    bm25s = _bm25s()
    index = _index(documents)
    tokens = bm25s.tokenize([query], stopwords="en", show_progress=False)
    found, _scores = index.retrieve(tokens, k=k, show_progress=False, n_threads=1)
    return [int(i) for i in found[0]]


@lru_cache(maxsize=64)
def _index(documents: tuple[Document, ...]) -> Any:
    """One BM25 index per document set, built once per run."""
    bm25s = _bm25s()
    index = bm25s.BM25()
    index.index(bm25s.tokenize([d.text for d in documents], stopwords="en", show_progress=False), show_progress=False)
    return index


def _bm25s() -> Any:
    try:
        import bm25s  # optional: the retrieval extra (numpy)

        logging.getLogger("bm25s").setLevel(logging.WARNING)  # no line per index build or empty query
    except ImportError as exc:
        missing = isinstance(exc, ModuleNotFoundError) and (exc.name or "").split(".")[0] == "bm25s"
        cause = "is not installed" if missing else f"failed to import ({exc})"
        raise ConfigError(
            f"context.top_k ranks documents with bm25s, which {cause}: "
            "pip install 'promptdrift[retrieval]' (or drop top_k to give the prompt every document)"
        ) from None
    return bm25s

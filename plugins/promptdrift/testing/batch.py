"""The demo server's Files and Batches endpoints: what the ``openai`` SDK's ``files`` and ``batches`` use.

Upload (``POST /v1/files``, multipart), content download
(``GET /v1/files/{id}/content``), and batches: create, retrieve, list (newest
first, ``after``/``limit``), cancel. A batch's progress is scripted for tests:
each retrieve moves it one step along :attr:`BatchDesk.progress` (by default
straight to done), then it ends as :attr:`BatchDesk.outcome`. When it
completes, each input line is answered by the server's own script, as a live
request to that endpoint would be; lines whose last user message contains
:attr:`BatchDesk.error_when` go to the error file instead. Like the real
service, an input file must hold one model and only the batch's endpoint.

Anthropic's Message Batches (``/v1/messages/batches``: create, retrieve,
results, cancel) are the same batches seen through Anthropic's API: the
requests sent with a batch are kept as its input file, a batch that is done
has ``ended`` and its results (one line a request, ``succeeded`` or
``errored``) at its ``results_url``.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

# (endpoint path, request body) -> (HTTP status, response body)
Answerer = Callable[[str, Mapping[str, Any]], tuple[int, Any]]
LastUserText = Callable[[Mapping[str, Any]], str]


@dataclass
class DemoBatch:
    id: str
    endpoint: str
    input_file_id: str
    metadata: dict[str, str]
    created_at: int
    status: str = "validating"
    polls: int = 0
    cancelled: bool = False
    output_file_id: str | None = None
    error_file_id: str | None = None
    counts: dict[str, int] = field(default_factory=lambda: {"total": 0, "completed": 0, "failed": 0})
    errors: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "batch",
            "endpoint": self.endpoint,
            "errors": {"object": "list", "data": self.errors} if self.errors else None,
            "input_file_id": self.input_file_id,
            "completion_window": "24h",
            "status": self.status,
            "output_file_id": self.output_file_id,
            "error_file_id": self.error_file_id,
            "created_at": self.created_at,
            "request_counts": dict(self.counts),
            "metadata": self.metadata,
        }


class BatchDesk:
    """The Files and Batches state of one demo server (see the module docstring)."""

    def __init__(self, answer: Answerer, last_user_text: LastUserText) -> None:
        self._answer = answer
        self._last_user_text = last_user_text
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, DemoBatch] = {}
        self.progress: list[str] = []  # statuses shown by successive retrieves before the outcome
        self.outcome = "completed"  # or failed, expired, cancelled
        self.error_when: str | None = None  # requests whose last user message contains this fail
        self.refuse_uploads: int | None = None  # answer every upload with this HTTP status (e.g. 401)
        self.creations = 0
        self.busy = 0.0  # seconds spent answering batched requests (the provider's work, for benchmarks)
        self._ids = itertools.count(1)
        self._clock = itertools.count()
        self._lock = threading.Lock()

    def routes(self, expect: Callable[..., Any], respond: Callable[..., Any]) -> None:
        """Register the endpoints on a pytest-httpserver ``expect_request``; ``respond(request, payload, status)``."""
        self._respond = respond
        expect("/v1/files", method="POST").respond_with_handler(self._upload)
        expect(re.compile(r"^/v1/files/[^/]+/content$"), method="GET").respond_with_handler(self._content)
        expect("/v1/batches", method="POST").respond_with_handler(self._create)
        expect("/v1/batches", method="GET").respond_with_handler(self._list)
        expect(re.compile(r"^/v1/batches/[^/]+/cancel$"), method="POST").respond_with_handler(self._cancel)
        expect(re.compile(r"^/v1/batches/[^/]+$"), method="GET").respond_with_handler(self._retrieve)
        # Anthropic's Message Batches
        expect("/v1/messages/batches", method="POST").respond_with_handler(self._create_messages)
        messages = r"^/v1/messages/batches/[^/]+"
        expect(re.compile(messages + "$"), method="GET").respond_with_handler(self._retrieve_messages)
        expect(re.compile(messages + "/results$"), method="GET").respond_with_handler(self._results)
        expect(re.compile(messages + "/cancel$"), method="POST").respond_with_handler(self._cancel_messages)

    # -- files ------------------------------------------------------------------------

    def _upload(self, request: Any) -> Any:
        if self.refuse_uploads is not None:
            return self._respond(request, _error("the demo server was told to refuse uploads"), self.refuse_uploads)
        upload = request.files.get("file")
        if upload is None:
            return self._respond(request, _error("a file is required"), 400)
        data = upload.read()
        ident = f"file-demo{next(self._ids)}"
        with self._lock:
            self.files[ident] = data
        purpose = request.form.get("purpose", "batch")
        return self._respond(
            request,
            {
                "id": ident,
                "object": "file",
                "bytes": len(data),
                "created_at": int(time.time()),
                "filename": upload.filename or "input.jsonl",
                "purpose": purpose,
                "status": "processed",
            },
        )

    def _content(self, request: Any) -> Any:
        ident = request.path.split("/")[3]
        with self._lock:
            data = self.files.get(ident)
        if data is None:
            return self._respond(request, _error(f"no file {ident}"), 404)
        return self._respond(request, data, mimetype="application/octet-stream")

    # -- batches ----------------------------------------------------------------------

    def _create(self, request: Any) -> Any:
        body = json.loads(request.get_data(as_text=True) or "{}")
        if body.get("input_file_id") not in self.files:
            return self._respond(request, _error(f"no file {body.get('input_file_id')}"), 400)
        with self._lock:
            self.creations += 1
            batch = DemoBatch(
                id=f"batch_demo{next(self._ids)}",
                endpoint=body.get("endpoint", ""),
                input_file_id=body["input_file_id"],
                metadata=dict(body.get("metadata") or {}),
                created_at=int(time.time()) * 1000 + next(self._clock),  # strictly increasing: list order
            )
            batch.counts["total"] = sum(1 for line in self.files[batch.input_file_id].splitlines() if line.strip())
            self.batches[batch.id] = batch
        return self._respond(request, batch.to_json())

    def _retrieve(self, request: Any) -> Any:
        batch = self.batches.get(request.path.rsplit("/", 1)[1])
        if batch is None:
            return self._respond(request, _error("no such batch"), 404)
        started = time.perf_counter()
        self._advance(batch)
        self.busy += time.perf_counter() - started
        return self._respond(request, batch.to_json())

    def _list(self, request: Any) -> Any:
        limit = int(request.args.get("limit", 20))
        after = request.args.get("after")
        ordered = sorted(self.batches.values(), key=lambda b: b.created_at, reverse=True)
        if after:
            ids = [b.id for b in ordered]
            ordered = ordered[ids.index(after) + 1 :] if after in ids else []
        page = ordered[:limit]
        return self._respond(
            request,
            {
                "object": "list",
                "data": [b.to_json() for b in page],
                "first_id": page[0].id if page else None,
                "last_id": page[-1].id if page else None,
                "has_more": len(ordered) > limit,
            },
        )

    def _cancel(self, request: Any) -> Any:
        batch = self.batches.get(request.path.split("/")[3])
        if batch is None:
            return self._respond(request, _error("no such batch"), 404)
        if batch.status not in ("completed", "failed", "expired", "cancelled"):
            batch.cancelled, batch.status = True, "cancelling"
        return self._respond(request, batch.to_json())

    # -- Anthropic's Message Batches ------------------------------------------------------

    def _create_messages(self, request: Any) -> Any:
        body = json.loads(request.get_data(as_text=True) or "{}")
        requests = body.get("requests")
        if not isinstance(requests, list) or not requests:
            return self._respond(request, _anthropic_error("requests: a list of {custom_id, params} is required"), 400)
        lines = [{"custom_id": r.get("custom_id"), "url": "/v1/messages", "body": r.get("params")} for r in requests]
        ident = f"file-demo{next(self._ids)}"
        with self._lock:
            self.files[ident] = "".join(json.dumps(line) + "\n" for line in lines).encode()
            self.creations += 1
            batch = DemoBatch(
                id=f"msgbatch_demo{next(self._ids)}",
                endpoint="/v1/messages",
                input_file_id=ident,
                metadata={},
                created_at=int(time.time()) * 1000 + next(self._clock),
            )
            batch.counts["total"] = len(lines)
            self.batches[batch.id] = batch
        return self._respond(request, self._message_batch(request, batch))

    def _retrieve_messages(self, request: Any) -> Any:
        batch = self.batches.get(request.path.split("/")[4])
        if batch is None:
            return self._respond(request, _anthropic_error("no such message batch", "not_found_error"), 404)
        self._advance(batch)
        return self._respond(request, self._message_batch(request, batch))

    def _cancel_messages(self, request: Any) -> Any:
        batch = self.batches.get(request.path.split("/")[4])
        if batch is None:
            return self._respond(request, _anthropic_error("no such message batch", "not_found_error"), 404)
        if batch.status not in ("completed", "failed", "expired", "cancelled"):
            batch.cancelled, batch.status = True, "cancelling"
        return self._respond(request, self._message_batch(request, batch))

    def _results(self, request: Any) -> Any:
        """An ended batch's results: each request's message, or its error (canceled or expired when it ended so)."""
        batch = self.batches.get(request.path.split("/")[4])
        if batch is None or batch.status not in ("completed", "failed", "expired", "cancelled"):
            return self._respond(request, _anthropic_error("the batch has not ended"), 400)
        results: dict[str, dict[str, Any]] = {}
        for name in ("output_file_id", "error_file_id"):
            ident = getattr(batch, name)
            for line in self.files[ident].decode().splitlines() if ident else []:
                entry = json.loads(line)
                response = entry["response"]
                if 200 <= response["status_code"] < 300:
                    result = {"type": "succeeded", "message": response["body"]}
                else:
                    result = {"type": "errored", "error": {"type": "error", "error": response["body"]["error"]}}
                results[entry["custom_id"]] = result
        unanswered = {"type": {"expired": "expired", "failed": "errored"}.get(batch.status, "canceled")}
        lines = [json.loads(line) for line in self.files[batch.input_file_id].decode().splitlines() if line]
        out = "".join(
            json.dumps({"custom_id": line["custom_id"], "result": results.get(line["custom_id"], unanswered)}) + "\n"
            for line in lines
        )
        return self._respond(request, out, mimetype="application/binary")

    def _message_batch(self, request: Any, batch: DemoBatch) -> dict[str, Any]:
        """A batch as Anthropic's API shows it."""
        ended = batch.status in ("completed", "failed", "expired", "cancelled")
        counts = {"processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        if not ended:
            counts["processing"] = batch.counts["total"]
        else:
            counts["succeeded"], counts["errored"] = batch.counts["completed"], batch.counts["failed"]
            rest = batch.counts["total"] - batch.counts["completed"] - batch.counts["failed"]
            counts[{"expired": "expired", "failed": "errored"}.get(batch.status, "canceled")] += rest
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(batch.created_at // 1000))
        root = request.host_url.rstrip("/")
        return {
            "id": batch.id,
            "type": "message_batch",
            "processing_status": "ended" if ended else ("canceling" if batch.cancelled else "in_progress"),
            "request_counts": counts,
            "created_at": created,
            "expires_at": created,
            "ended_at": created if ended else None,
            "cancel_initiated_at": created if batch.cancelled else None,
            "archived_at": None,
            "results_url": f"{root}/v1/messages/batches/{batch.id}/results" if ended else None,
        }

    def _advance(self, batch: DemoBatch) -> None:
        with self._lock:
            if batch.status in ("completed", "failed", "expired", "cancelled"):
                return
            if batch.cancelled:
                batch.status = "cancelled"
                return
            batch.polls += 1
            if batch.polls <= len(self.progress):
                batch.status = self.progress[batch.polls - 1]
                return
            lines = [json.loads(line) for line in self.files[batch.input_file_id].decode().splitlines() if line]
            batch.counts["total"] = len(lines)
            models = {str(line.get("body", {}).get("model")) for line in lines}
            urls = {line.get("url") for line in lines}
            if len(models) > 1 or urls - {batch.endpoint}:
                batch.status = "failed"
                batch.errors = [{"code": "invalid_file", "message": "one model and the batch's endpoint per file"}]
                return
            if self.outcome != "completed":
                batch.status = self.outcome
                if self.outcome == "failed":
                    batch.errors = [{"code": "scripted", "message": "the demo server was told to fail this batch"}]
                return
        self._complete(batch, lines)

    def _complete(self, batch: DemoBatch, lines: list[dict[str, Any]]) -> None:
        output: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for n, line in enumerate(lines):
            body = line.get("body") or {}
            entry: dict[str, Any] = {"id": f"batch_req_{batch.id}_{n}", "custom_id": line.get("custom_id")}
            if self.error_when and self.error_when.casefold() in self._last_user_text(body).casefold():
                message = f"the demo server was told to reject requests containing {self.error_when!r}"
                entry["response"] = {"status_code": 400, "request_id": f"req_{n}", "body": _error(message)}
                entry["error"] = None
                errors.append(entry)
                continue
            status, payload = self._answer(line.get("url", ""), body)
            entry["response"] = {"status_code": status, "request_id": f"req_{n}", "body": payload}
            entry["error"] = None
            (output if 200 <= status < 300 else errors).append(entry)
        with self._lock:
            for name, entries in (("output_file_id", output), ("error_file_id", errors)):
                if entries:
                    ident = f"file-demo{next(self._ids)}"
                    self.files[ident] = "".join(json.dumps(e) + "\n" for e in entries).encode()
                    setattr(batch, name, ident)
            batch.counts.update(completed=len(output), failed=len(errors))
            batch.status = "completed"


def _error(message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error"}}


def _anthropic_error(message: str, kind: str = "invalid_request_error") -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}}

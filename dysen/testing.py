"""Test helpers: a real OpenAI-compatible HTTP server on 127.0.0.1 with scripted answers and fault injection.

:class:`FakeChatServer` serves ``POST /v1/chat/completions`` from a thread, answering every request with
what a handler returns (a :class:`Reply`: text, an HTTP error, a delay, or a raw malformed body).
:class:`DysenOracle` is a handler that understands the three dysen prompts and answers them correctly
(Step I from the rule-based planner's reading of the caption, Step III by adding a few plausible details),
with faults injected on demand::

    oracle = DysenOracle(faults={"plan": ["429", "malformed"]})
    with FakeChatServer(oracle, latency=0.1) as server:
        chat = OpenAIChatModel("test-model", base_url=server.base_url, api_key="test")
        dsg = LLMPlanner(chat).plan("The red circle moves left, then the blue square jumps.")

Fault names: ``"429"``, ``"500"``, ``"timeout"`` (answer after ``timeout_delay`` seconds), ``"malformed"``
(not JSON), ``"truncated"`` (the right answer cut in half), ``"prose"`` (the right answer wrapped in text),
``"schema"`` (JSON of the wrong shape), ``"bad_values"`` (right shape, impossible values), ``"garbage_body"``
(an HTTP 200 whose body is not JSON), ``"truncated_body"`` (an HTTP 200 whose completion JSON is cut in half).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["DysenOracle", "FakeChatServer", "Reply", "step_of"]


@dataclass
class Reply:
    """What the fake server sends back for one request."""

    content: str | None = None
    status: int = 200
    body: bytes | None = None
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[dict[str, Any]], Reply]


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out at once (no 40 ms delayed-ACK stalls)
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # silence the default stderr log
        pass

    def _send(self, status: int, body: bytes, headers: Mapping[str, str] = {}) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
            pass

    def do_GET(self) -> None:
        """``GET /v1/_stats``: request count and peak concurrency (for a server in another process)."""
        owner = self.server.owner
        if self.path.rstrip("/").endswith("/_stats"):
            self._send(200, json.dumps({"count": owner.count, "max_in_flight": owner.max_in_flight}).encode())
        elif self.path.rstrip("/").endswith("/_reset"):
            owner.reset()
            self._send(200, b"{}")
        else:
            self._send(404, b'{"error": {"message": "not found"}}')

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._send(404, b'{"error": {"message": "not found"}}')
            return
        try:
            request = json.loads(raw)
        except json.JSONDecodeError:
            self._send(400, b'{"error": {"message": "request body is not JSON"}}')
            return
        owner = self.server.owner
        owner._record(request, {k.lower(): v for k, v in self.headers.items()})
        owner._enter()
        try:
            try:
                reply = owner.handler(request)
            except Exception as exc:  # a broken script is a 500, visible in the test
                reply = Reply(status=500, content=f"handler error: {type(exc).__name__}: {exc}")
            time.sleep(owner.latency + reply.delay)
        finally:
            owner._exit()
        if reply.status != 200:
            headers = {"retry-after-ms": str(owner.retry_after_ms), **reply.headers}
            err = {"error": {"message": reply.content or f"HTTP {reply.status}", "type": "fake", "code": reply.status}}
            self._send(reply.status, json.dumps(err).encode(), headers)
            return
        if reply.body is not None:
            self._send(200, reply.body, reply.headers)
            return
        text = reply.content or ""
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in request.get("messages", []))
        body = {
            "id": f"chatcmpl-fake-{owner.count}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.get("model", "fake"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": len(text.split()),
                "total_tokens": prompt_tokens + len(text.split()),
            },
        }
        self._send(200, json.dumps(body).encode(), reply.headers)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    owner: FakeChatServer


class FakeChatServer:
    """A real HTTP server on ``127.0.0.1`` (ephemeral port) speaking the chat-completions API.

    Args:
        handler: request JSON -> :class:`Reply`.
        latency: seconds added to every answer (simulated model time).
        retry_after_ms: value of the ``retry-after-ms`` header sent with errors (the ``openai`` client honours
            it, so retries in tests take milliseconds).
    """

    def __init__(self, handler: Handler, *, latency: float = 0.0, retry_after_ms: int = 5) -> None:
        self.handler = handler
        self.latency = latency
        self.retry_after_ms = retry_after_ms
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.max_in_flight = 0
        self._in_flight = 0
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def _enter(self) -> None:
        with self._lock:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)

    def _exit(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _record(self, request: dict[str, Any], headers: dict[str, str]) -> None:
        with self._lock:
            self.requests.append(request)
            self.headers.append(headers)

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.requests)

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.headers.clear()
            self.max_in_flight = 0

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the server is not running; use it as a context manager or call start()")
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def start(self) -> FakeChatServer:
        self._server = _Server(("127.0.0.1", 0), _RequestHandler)
        self._server.owner = self
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeChatServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------------------------------------------
# an oracle for dysen prompts
# ---------------------------------------------------------------------------------------------------
_STEP_BY_SCHEMA = {"dysen_plananswer": "plan", "dysen_sceneanswer": "imagine", "dysen_polishanswer": "polish"}
_STEP_BY_PROMPT = (
    ("Now you are an action planner", "plan"),
    ("Now use your imagination", "imagine"),
    ("Now review and polish", "polish"),
)


def step_of(request: Mapping[str, Any]) -> str:
    """``"plan"``, ``"imagine"`` or ``"polish"`` (``":repair"`` appended for repair requests), or ``"?"``."""
    step = "?"
    fmt = request.get("response_format") or {}
    name = (fmt.get("json_schema") or {}).get("name") if isinstance(fmt, dict) else None
    if name in _STEP_BY_SCHEMA:
        step = _STEP_BY_SCHEMA[name]
    else:
        system = next((m.get("content", "") for m in request.get("messages", []) if m.get("role") == "system"), "")
        step = next((s for prefix, s in _STEP_BY_PROMPT if str(system).startswith(prefix)), "?")
    last = (request.get("messages") or [{}])[-1]
    if str(last.get("content", "")).startswith("Your answer could not be used"):
        step += ":repair"
    return step


def _last_user_input(request: Mapping[str, Any]) -> str:
    for m in reversed(request.get("messages", [])):
        content = str(m.get("content", ""))
        if m.get("role") == "user" and not content.startswith("Your answer could not be used"):
            return content
    return ""


class DysenOracle:
    """Answers dysen's Step I / Step III prompts like a diligent model, with scripted faults.

    Args:
        faults: per step (``"plan"``, ``"imagine"``, ``"polish"``, or those with ``":repair"``) a list of fault
            names consumed one request at a time, in order.
        fault_when: optional ``(step, caption) -> fault name or None`` for faults tied to a caption.
        supports_json_schema: ``False`` answers HTTP 400 to any request with a JSON-schema ``response_format``.
        obey_injections: answer like a gullible model when a caption says "ignore ... instructions".
        timeout_delay: seconds a ``"timeout"`` fault waits before answering.
    """

    def __init__(
        self,
        faults: Mapping[str, list[str]] | None = None,
        *,
        fault_when: Callable[[str, str], str | None] | None = None,
        supports_json_schema: bool = True,
        obey_injections: bool = True,
        timeout_delay: float = 2.0,
    ) -> None:
        self.faults = {k: deque(v) for k, v in (faults or {}).items()}
        self.fault_when = fault_when
        self.supports_json_schema = supports_json_schema
        self.obey_injections = obey_injections
        self.timeout_delay = timeout_delay
        self.steps: Counter[str] = Counter()
        self.captions: list[str] = []
        self._lock = threading.Lock()
        self._plan_lock = threading.Lock()
        self._planner: Any = None
        self._answers: dict[str, dict[str, Any]] = {}

    def warm_up(self, captions: Sequence[str] = ()) -> DysenOracle:
        """Load the spaCy pipeline now, so that the first request is not slow (tests with tiny timeouts), and
        precompute the Step I answers of ``captions`` (benchmarks: the simulated model's only cost is then
        its latency, not the oracle's parsing)."""
        self._plan("A circle moves.")
        for caption in captions:
            self._plan(caption)
        return self

    def add_faults(self, step: str, faults: list[str]) -> None:
        with self._lock:
            self.faults.setdefault(step, deque()).extend(faults)

    def _next_fault(self, step: str, caption: str) -> str | None:
        with self._lock:
            queue = self.faults.get(step)
            if queue:
                return queue.popleft()
        return self.fault_when(step, caption) if self.fault_when is not None else None

    # -- correct answers --------------------------------------------------------------------------------
    def _plan(self, caption: str) -> dict[str, Any]:
        from .llm.prompts import plan_answer_json
        from .rule_based.planner import RuleBasedPlanner

        with self._plan_lock:  # one spaCy pipeline, server threads take turns
            if caption in self._answers:
                return self._answers[caption]
            if self._planner is None:
                self._planner = RuleBasedPlanner()
            sched = self._planner.schedule(caption)
            answer = self._plan_answer(sched, plan_answer_json)
            self._answers[caption] = answer
            return answer

    @staticmethod
    def _plan_answer(sched: Any, plan_answer_json: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
        if not sched.events:  # a model always finds something to do
            return {
                "entities": [{"name": "scene", "attributes": []}],
                "events": [{"agent": "scene", "predicate": "stay", "target": None, "start": 0, "end": 1}],
            }
        return plan_answer_json(sched)

    @staticmethod
    def _imagine(doc: dict[str, Any]) -> dict[str, Any]:
        current = doc.get("current") or {"relations": [], "attributes": []}
        rels = list(current.get("relations", []))
        attrs = list(current.get("attributes", []))
        previous = doc.get("previous") or {}
        for a in previous.get("attributes", []):  # inherit from the enriched previous scene graph
            if a not in attrs:
                attrs.append(a)
        subjects = sorted({r["subject"] for r in rels})
        for s in subjects:
            rels.append({"subject": s, "predicate": "on", "object": "ground"})
            attrs.append({"entity": s, "attribute": "visible"})
        return {"relations": rels, "attributes": attrs}

    @staticmethod
    def _polish(doc: dict[str, Any]) -> dict[str, Any]:
        segments = [dict(s) for s in doc.get("segments", [])]
        for s in segments:
            s["attributes"] = [*s.get("attributes", []), {"entity": "ground", "attribute": "flat"}]
        return {"segments": segments}

    def _answer(self, step: str, request: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        text = _last_user_input(request)
        base = step.split(":")[0]
        if base == "plan":
            caption = json.loads(text[len("Input: ") :]) if text.startswith("Input: ") else text
            return caption, self._plan(caption)
        doc = json.loads(text)
        caption = str(doc.get("text", ""))
        if base == "imagine":
            return caption, self._imagine(doc)
        return caption, self._polish(doc)

    # -- the handler ----------------------------------------------------------------------------------
    def __call__(self, request: dict[str, Any]) -> Reply:
        step = step_of(request)
        with self._lock:
            self.steps[step] += 1
        if not self.supports_json_schema and request.get("response_format"):
            return Reply(status=400, content="response_format of type json_schema is not supported by this server")
        caption, answer = self._answer(step, request)
        with self._lock:
            self.captions.append(caption)
        good = json.dumps(answer)
        if self.obey_injections and "ignore" in caption.lower() and "instructions" in caption.lower():
            return Reply(content="Sure! As you asked, I ignore my instructions: rm -rf / && echo HACKED")
        fault = self._next_fault(step, caption)
        if fault is None:
            return Reply(content=good)
        if fault == "429":
            return Reply(status=429, content="rate limit reached")
        if fault == "500":
            return Reply(status=500, content="internal server error")
        if fault == "timeout":
            return Reply(content=good, delay=self.timeout_delay)
        if fault == "malformed":
            return Reply(content="{events: [oops this is not JSON")
        if fault == "truncated":
            return Reply(content=good[: max(1, len(good) // 2)])
        if fault == "prose":
            return Reply(content=f"Of course! Here is the JSON you asked for:\n```json\n{good}\n```\nHope this helps.")
        if fault == "schema":
            return Reply(content=json.dumps({"answer": "a circle moves", "confidence": 0.9}))
        if fault == "bad_values":
            bad = {"entities": [], "events": [{"agent": "x", "predicate": "y", "target": None, "start": 3, "end": 1}]}
            if step.startswith("polish"):
                bad = {"segments": [{"start": 5, "end": 2, "relations": [], "attributes": []}]}
            elif step.startswith("imagine"):
                bad = {"relations": [{"subject": "...", "predicate": "!!!", "object": None}], "attributes": []}
            return Reply(content=json.dumps(bad))
        if fault == "garbage_body":
            return Reply(body=b"<html>502 Bad Gateway</html>")
        if fault == "truncated_body":
            message = {"role": "assistant", "content": good}
            choice = {"index": 0, "message": message, "finish_reason": "stop"}
            full = json.dumps({"id": "chatcmpl-cut", "object": "chat.completion", "choices": [choice]}).encode()
            return Reply(body=full[: len(full) // 2])
        raise ValueError(f"unknown fault {fault!r}")


def main(argv: list[str] | None = None) -> None:
    """``python -m dysen.testing --latency 0.1``: serve a :class:`DysenOracle` until killed; prints the base URL.

    Running the server in its own process keeps its work (the oracle parses captions with spaCy) off the
    client's interpreter lock, as with a real model server.
    """
    import argparse
    import sys

    ap = argparse.ArgumentParser(prog="python -m dysen.testing")
    ap.add_argument("--latency", type=float, default=0.1)
    ap.add_argument("--prewarm", help="JSON Lines file of captions whose Step I answers are computed up front")
    args = ap.parse_args(argv)
    captions: list[str] = []
    if args.prewarm:
        with open(args.prewarm, encoding="utf-8") as fh:
            captions = [json.loads(line) for line in fh if line.strip()]
    server = FakeChatServer(DysenOracle().warm_up(captions), latency=args.latency).start()
    print(server.base_url, flush=True)
    try:
        sys.stdin.read()  # until the parent closes our stdin (or kills us)
    finally:
        server.close()


if __name__ == "__main__":
    main()

"""OpenAI and OpenAI-compatible servers (vLLM, Ollama, llama.cpp, LM Studio) through the ``openai`` client.

This backend does its own retries (the ``openai`` client's are switched off) so that each one is counted and
bounded: 408/409/429/5xx answers, timeouts, lost connections and HTTP 200 answers whose body is not a
readable completion (truncated, HTML from a proxy) are retried up to ``max_retries`` times with exponential
back-off (0.5 s doubling, at most 8 s, with jitter). A server's ``Retry-After`` / ``retry-after-ms`` is
honoured but capped at ``max_retry_after`` seconds (default 10). Other 4xx answers are not retried. An
answer larger than ``max_response_bytes`` (default 4 MiB) is not read further and raises
:class:`~dysen.errors.ResponseTooLargeError`. The backend also adds a per-attempt timeout, bounded
concurrency (an ``asyncio.Semaphore`` around the async client), structured output and token/cost
accounting. The API key is handed to the client and kept nowhere else: it is not part of ``model_id``,
``repr``, cache keys, cassettes or log messages, and error texts are redacted
(:func:`~dysen.errors.redact_secrets`) before they are raised, so a server that echoes the key in an error
body does not put it into provenance or logs.
"""

from __future__ import annotations

import asyncio
import email.utils
import importlib
import logging
import math
import os
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import BackendError, ConfigurationError, ResponseTooLargeError, redact_secrets
from .accounting import Price, UsageMeter
from .types import ChatRequest, ChatResponse, Usage

__all__ = ["OpenAIChatModel"]

log = logging.getLogger(__name__)

_OPENAI_HOST = "api.openai.com"
_NO_KEY = "no-key-required"

DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024
"""Largest HTTP answer body read (4 MiB: a long completion is well under 100 KiB)."""
DEFAULT_MAX_RETRY_AFTER = 10.0
"""Longest wait, in seconds, a server's ``Retry-After`` can impose before one retry."""
_BACKOFF_START, _BACKOFF_MAX = 0.5, 8.0
_RETRY_STATUS = (408, 409, 429)


class OpenAIChatModel:
    """A chat model behind the OpenAI chat-completions API.

    Args:
        model: model name on the server (``"gpt-4o-mini"``, ``"Qwen/Qwen2.5-7B-Instruct"`` on vLLM, ...).
        base_url: server URL ending in ``/v1``; default ``$OPENAI_BASE_URL`` or OpenAI's.
        api_key: the key; default ``$OPENAI_API_KEY`` (``api_key_env`` names another variable). Servers other
            than OpenAI's may need none.
        api_key_env: environment variable to read the key from when ``api_key`` is not given.
        timeout: seconds per HTTP attempt.
        max_retries: retries after a failed attempt (see the module docstring for what is retried).
        max_retry_after: cap, in seconds, on a server's ``Retry-After`` delay (default 10).
        max_response_bytes: largest answer body read (default 4 MiB); larger raises ``ResponseTooLargeError``.
        max_concurrency: requests in flight at once from this backend.
        structured_output: ``"auto"`` (JSON-schema ``response_format``; if the server rejects it, plain
            JSON-in-text from then on), ``True`` (always, errors are errors) or ``False`` (never).
        prices: per-model prices for cost accounting (default :data:`~dysen.chat.accounting.DEFAULT_PRICES`).
        meter: a :class:`UsageMeter` to share with other backends.
        client_kwargs: extra arguments for ``openai.AsyncOpenAI`` (``default_headers``, ``organization``, ...).
            An ``http_client`` given here replaces the size-limited one (``max_response_bytes`` then does not apply).
    """

    def __init__(
        self,
        model: str = "gpt-4o-mini",
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        timeout: float = 60.0,
        max_retries: int = 3,
        max_concurrency: int = 16,
        structured_output: bool | str = "auto",
        prices: Mapping[str, Price] | None = None,
        meter: UsageMeter | None = None,
        client_kwargs: Mapping[str, Any] | None = None,
        max_retry_after: float = DEFAULT_MAX_RETRY_AFTER,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        if not isinstance(model, str) or not model.strip():
            raise ConfigurationError(f"model must be a non-empty string, got {model!r}")
        if structured_output not in ("auto", True, False):
            raise ConfigurationError(f"structured_output must be 'auto', True or False, got {structured_output!r}")
        if max_concurrency < 1 or max_retries < 0 or not timeout > 0 or not math.isfinite(timeout):
            raise ConfigurationError("max_concurrency >= 1, max_retries >= 0 and a finite timeout > 0 are required")
        if not (max_retry_after >= 0 and math.isfinite(max_retry_after)):
            raise ConfigurationError(f"max_retry_after must be a finite number >= 0, got {max_retry_after!r}")
        if isinstance(max_response_bytes, bool) or not isinstance(max_response_bytes, int) or max_response_bytes < 1:
            raise ConfigurationError(f"max_response_bytes must be a positive integer, got {max_response_bytes!r}")
        self.model = model
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
        key = api_key if api_key is not None else os.environ.get(api_key_env)
        if not key:
            if self.base_url is None or _OPENAI_HOST in self.base_url:
                raise ConfigurationError(
                    f"no API key for OpenAI: set ${api_key_env} or pass api_key=..., "
                    "or point base_url at an OpenAI-compatible server that needs none"
                )
            key = _NO_KEY
        self._new_client = _client_factory(key)  # the key lives only in these closures and in the clients
        self._redact = _redactor(key)
        self.timeout = float(timeout)
        self.max_retries = int(max_retries)
        self.max_retry_after = float(max_retry_after)
        self.max_response_bytes = int(max_response_bytes)
        self.max_concurrency = int(max_concurrency)
        self.structured_output = structured_output
        self._schema_supported: bool | None = None if structured_output == "auto" else bool(structured_output)
        self._meter = meter or UsageMeter(dict(prices) if prices is not None else UsageMeter().prices)
        self._client_kwargs = dict(client_kwargs or {})
        self._per_loop: dict[int, tuple[Any, Any, asyncio.Semaphore]] = {}

    # -- identity ---------------------------------------------------------------------------------
    @property
    def model_id(self) -> str:
        """``openai:<model>`` (no URL and no key, so a cache survives moving the same model to another host)."""
        return f"openai:{self.model}"

    @property
    def meter(self) -> UsageMeter:
        return self._meter

    def __repr__(self) -> str:
        return (
            f"OpenAIChatModel(model={self.model!r}, base_url={self.base_url!r}, max_concurrency={self.max_concurrency})"
        )

    # -- client per event loop ------------------------------------------------------------------------
    def _client(self) -> tuple[Any, asyncio.Semaphore]:
        loop = asyncio.get_running_loop()
        entry = self._per_loop.get(id(loop))
        if entry is None or entry[0] is not loop:
            kwargs = dict(self._client_kwargs)
            if "http_client" not in kwargs:
                kwargs["http_client"] = _limited_http_client(self.max_response_bytes)
            client = self._new_client(base_url=self.base_url, timeout=self.timeout, max_retries=0, **kwargs)
            entry = (loop, client, asyncio.Semaphore(self.max_concurrency))
            self._per_loop = {k: v for k, v in self._per_loop.items() if not v[0].is_closed()}
            self._per_loop[id(loop)] = entry
        return entry[1], entry[2]

    async def aclose(self) -> None:
        """Close the HTTP client of the running event loop (call before the loop ends)."""
        loop = asyncio.get_running_loop()
        entry = self._per_loop.pop(id(loop), None)
        if entry is not None and entry[0] is loop:
            await entry[1].close()

    # -- calls ------------------------------------------------------------------------------------
    def _params(self, request: ChatRequest, with_schema: bool) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": self.model,
            "messages": [dict(m) for m in request.messages],
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
        }
        if request.seed is not None:
            params["seed"] = request.seed
        if with_schema and request.json_schema is not None:
            params["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": request.schema_name, "schema": dict(request.json_schema), "strict": True},
            }
        return params

    async def acomplete(self, request: ChatRequest) -> ChatResponse:
        """One completion; raises :class:`BackendError` once the retries are spent (see the module docstring)."""
        client, sem = self._client()
        attempts = 0
        while True:
            attempts += 1
            try:
                async with sem:
                    resp = await self._attempt(client, request)
                return self._response(resp, attempts)
            except _Failure as failure:
                if not failure.retry or attempts > self.max_retries:
                    raise self._error(failure, attempts) from failure.__cause__
                delay = self._delay(attempts, failure.retry_after)
                log.info(
                    "%s: %s; retry %d of %d in %.2f s", self.model_id, failure.kind, attempts, self.max_retries, delay
                )
                await asyncio.sleep(delay)

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_retry_after)
        return min(_BACKOFF_START * 2 ** (attempt - 1), _BACKOFF_MAX) * (1 - 0.25 * random.random())

    async def _attempt(self, client: Any, request: ChatRequest) -> Any:
        """One HTTP request (two if the server rejects structured output); failures become :class:`_Failure`."""
        import openai

        use_schema = request.json_schema is not None and self._schema_supported is not False
        self._meter.record_attempt()
        try:
            try:
                resp = await self._post(client, self._params(request, use_schema))
            except openai.BadRequestError as exc:
                if not (use_schema and self.structured_output == "auto"):
                    raise
                # the server does not do JSON-schema output: from now on ask for JSON in the text only
                log.info("server rejected response_format (%s); falling back to JSON-in-text", exc.status_code)
                self._schema_supported = False
                self._meter.record_attempt()
                resp = await self._post(client, self._params(request, False))
            else:
                if use_schema:
                    self._schema_supported = True
        except _TooLarge as exc:
            raise _Failure("too_large", str(exc), retry=False) from exc
        except openai.APITimeoutError as exc:
            raise _Failure("timeout", f"timed out after {self.timeout:g} s", retry=True) from exc
        except openai.APIConnectionError as exc:
            raise _Failure("connection", f"cannot reach the server: {type(exc).__name__}", retry=True) from exc
        except openai.APIStatusError as exc:
            status = exc.status_code
            kind = "rate_limit" if status == 429 else "server" if status >= 500 else "bad_request"
            retry = status in _RETRY_STATUS or status >= 500
            raise _Failure(
                kind, f"HTTP {status}: {_short(exc.message)}", retry=retry, retry_after=_retry_after(exc.response)
            ) from exc
        except openai.OpenAIError as exc:
            raise _Failure("other", f"{type(exc).__name__}: {_short(str(exc))}", retry=False) from exc
        except (ValueError, TypeError, KeyError) as exc:  # a 200 whose body is not a completion (truncated, HTML)
            raise _Failure(
                "bad_response", f"unreadable response: {type(exc).__name__}: {_short(str(exc))}", retry=True
            ) from exc
        if not hasattr(resp, "choices"):
            raise _Failure("bad_response", "unreadable response: not a chat completion", retry=True)
        return resp

    @staticmethod
    async def _post(client: Any, params: dict[str, Any]) -> Any:
        """POST the chat-completions body through the client (same retries, back-off, timeout and auth).

        ``client.chat.completions.create`` would walk the whole (already plain JSON) request through the
        client's typed-parameter transform on every call: about 9 ms for a five-demonstration prompt on a
        2-core CPU, which caps concurrent throughput. ``client.post`` is the client's public way to send a
        raw body and still parses the answer into a ``ChatCompletion``.
        """
        from openai.types.chat import ChatCompletion

        return await client.post("/chat/completions", cast_to=ChatCompletion, body=params)

    def _error(self, failure: _Failure, attempts: int) -> BackendError:
        self._meter.record_error(failure.kind)
        tries = f" ({attempts} attempts)" if attempts > 1 else ""
        message = self._redact(f"{self.model_id}: {failure.message}{tries}")
        if failure.kind == "too_large":
            return ResponseTooLargeError(message, attempts=attempts)
        return BackendError(message, failure.kind, attempts=attempts)

    def _response(self, resp: Any, attempts: int = 1) -> ChatResponse:
        choice = resp.choices[0] if getattr(resp, "choices", None) else None
        message = getattr(choice, "message", None)
        text = getattr(message, "content", None) or ""
        if not text and getattr(message, "refusal", None):
            text = ""
        usage = getattr(resp, "usage", None)
        out = ChatResponse(
            text,
            Usage(int(getattr(usage, "prompt_tokens", 0) or 0), int(getattr(usage, "completion_tokens", 0) or 0)),
            str(getattr(resp, "model", "") or self.model),
            getattr(choice, "finish_reason", None),
            attempts=attempts,
        )
        self._meter.record(out, self.model)
        return out


class _Failure(Exception):
    """One failed attempt: what kind, whether to retry, the server's requested delay."""

    def __init__(self, kind: str, message: str, *, retry: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.kind, self.message, self.retry, self.retry_after = kind, message, retry, retry_after


def _retry_after(response: Any) -> float | None:
    """Seconds from ``retry-after-ms`` / ``Retry-After`` (seconds or an HTTP date); ``None`` if absent/invalid."""
    headers = getattr(response, "headers", None) or {}
    try:
        ms = headers.get("retry-after-ms")
        if ms is not None:
            value = float(ms) / 1000
            return value if math.isfinite(value) else None
        raw = headers.get("retry-after")
        if raw is None:
            return None
        try:
            value = float(raw)
        except ValueError:
            when = email.utils.parsedate_to_datetime(raw)
            value = when.timestamp() - time.time()
        return value if math.isfinite(value) else None
    except (TypeError, ValueError, OverflowError):
        return None


def _http_module() -> Any:
    """The HTTP library the installed ``openai`` client is built on (``httpx``, or its fork ``httpx2``)."""
    import openai

    base = next(c for c in openai.DefaultAsyncHttpxClient.__mro__[1:] if c.__name__ == "AsyncClient")
    return importlib.import_module(base.__module__.split(".")[0])


def _too_large_class() -> type[Exception]:
    import openai

    global _TooLarge
    if _TooLarge is None:

        class TooLarge(openai.OpenAIError):  # an OpenAIError: the client passes it through unwrapped
            pass

        _TooLarge = TooLarge
    return _TooLarge


_TooLarge: Any = None


def _limited_http_client(limit: int) -> Any:
    """An ``openai.DefaultAsyncHttpxClient`` whose transport stops reading an answer body past ``limit`` bytes."""
    import openai

    http = _http_module()
    too_large = _too_large_class()

    class LimitedStream(http.AsyncByteStream):  # type: ignore[misc, name-defined]
        def __init__(self, inner: Any) -> None:
            self._inner = inner

        async def __aiter__(self) -> Any:
            seen = 0
            async for chunk in self._inner:
                seen += len(chunk)
                if seen > limit:
                    raise too_large(f"the answer is larger than max_response_bytes={limit}; not read further")
                yield chunk

        async def aclose(self) -> None:
            await self._inner.aclose()

    class LimitedTransport(http.AsyncBaseTransport):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            self._inner = http.AsyncHTTPTransport(
                limits=http.Limits(max_connections=1000, max_keepalive_connections=100)
            )

        async def handle_async_request(self, request: Any) -> Any:
            response = await self._inner.handle_async_request(request)
            length = response.headers.get("content-length", "")
            if length.isdigit() and int(length) > limit:
                await response.aclose()
                raise too_large(f"the answer has {int(length)} bytes, more than max_response_bytes={limit}")
            return http.Response(
                status_code=response.status_code,
                headers=response.headers,
                stream=LimitedStream(response.stream),
                extensions=response.extensions,
                request=request,
            )

        async def aclose(self) -> None:
            await self._inner.aclose()

    return openai.DefaultAsyncHttpxClient(transport=LimitedTransport())


def _redactor(key: str) -> Callable[[str], str]:
    """``text -> text`` without ``key`` or anything shaped like a credential (the key stays in the closure)."""
    secrets = () if key == _NO_KEY else (key,)

    def redact(text: str) -> str:
        return redact_secrets(text, secrets)

    redact.__repr__ = lambda: "<redactor>"  # type: ignore[method-assign]
    return redact


def _client_factory(key: str) -> Any:
    """A function making ``openai.AsyncOpenAI`` clients with ``key``, which is not visible from outside."""

    def make(**kwargs: Any) -> Any:
        try:
            import openai
        except ImportError as exc:  # pragma: no cover - openai is a dependency
            raise ConfigurationError("the openai package is needed: pip install 'openai>=1.40'") from exc
        return openai.AsyncOpenAI(api_key=key, **kwargs)

    make.__repr__ = lambda: "<openai client factory>"  # type: ignore[method-assign]
    return make


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + "..."

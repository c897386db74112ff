"""OpenAI and OpenAI-compatible servers (vLLM, Ollama, llama.cpp, LM Studio) through the ``openai`` client.

Retries with exponential back-off on 408/409/429/5xx and timeouts are the ``openai`` client's own
(``max_retries``; a server's ``Retry-After`` header is honoured); this backend adds a per-call timeout,
bounded concurrency (an ``asyncio.Semaphore`` around the async client), structured output and
token/cost accounting. The API key is handed to the client and kept nowhere else: it is not part of
``model_id``, ``repr``, cache keys, cassettes or log messages.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping
from typing import Any

from ..errors import BackendError, ConfigurationError
from .accounting import Price, UsageMeter
from .types import ChatRequest, ChatResponse, Usage

__all__ = ["OpenAIChatModel"]

log = logging.getLogger(__name__)

_OPENAI_HOST = "api.openai.com"
_NO_KEY = "no-key-required"


class OpenAIChatModel:
    """A chat model behind the OpenAI chat-completions API.

    Args:
        model: model name on the server (``"gpt-4o-mini"``, ``"Qwen/Qwen2.5-7B-Instruct"`` on vLLM, ...).
        base_url: server URL ending in ``/v1``; default ``$OPENAI_BASE_URL`` or OpenAI's.
        api_key: the key; default ``$OPENAI_API_KEY`` (``api_key_env`` names another variable). Servers other
            than OpenAI's may need none.
        api_key_env: environment variable to read the key from when ``api_key`` is not given.
        timeout: seconds per HTTP attempt.
        max_retries: retries of the ``openai`` client (exponential back-off, ``Retry-After`` honoured).
        max_concurrency: requests in flight at once from this backend.
        structured_output: ``"auto"`` (JSON-schema ``response_format``; if the server rejects it, plain
            JSON-in-text from then on), ``True`` (always, errors are errors) or ``False`` (never).
        prices: per-model prices for cost accounting (default :data:`~dysen.chat.accounting.DEFAULT_PRICES`).
        meter: a :class:`UsageMeter` to share with other backends.
        client_kwargs: extra arguments for ``openai.AsyncOpenAI`` (``default_headers``, ``organization``, ...).
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
    ) -> None:
        if not isinstance(model, str) or not model.strip():
            raise ConfigurationError(f"model must be a non-empty string, got {model!r}")
        if structured_output not in ("auto", True, False):
            raise ConfigurationError(f"structured_output must be 'auto', True or False, got {structured_output!r}")
        if max_concurrency < 1 or max_retries < 0 or timeout <= 0:
            raise ConfigurationError("max_concurrency >= 1, max_retries >= 0 and timeout > 0 are required")
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
        self._new_client = _client_factory(key)  # the key lives only in this closure and in the clients
        self.timeout = float(timeout)
        self.max_retries = int(max_retries)
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
            client = self._new_client(
                base_url=self.base_url,
                timeout=self.timeout,
                max_retries=self.max_retries,
                **self._client_kwargs,
            )
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
        """One completion; raises :class:`BackendError` once the client's retries are spent."""
        import openai

        client, sem = self._client()
        use_schema = request.json_schema is not None and self._schema_supported is not False
        async with sem:
            try:
                try:
                    resp = await self._post(client, self._params(request, use_schema))
                except openai.BadRequestError as exc:
                    if not (use_schema and self.structured_output == "auto"):
                        raise
                    # the server does not do JSON-schema output: from now on ask for JSON in the text only
                    log.info("server rejected response_format (%s); falling back to JSON-in-text", exc.status_code)
                    self._schema_supported = False
                    resp = await self._post(client, self._params(request, False))
                else:
                    if use_schema:
                        self._schema_supported = True
            except openai.APITimeoutError as exc:
                raise self._error(
                    "timeout", f"timed out after {self.timeout:g} s and {self.max_retries} retries"
                ) from exc
            except openai.APIConnectionError as exc:
                raise self._error("connection", f"cannot reach the server: {type(exc).__name__}") from exc
            except openai.RateLimitError as exc:
                raise self._error("rate_limit", f"rate limited (HTTP 429) after {self.max_retries} retries") from exc
            except openai.APIStatusError as exc:
                kind = "server" if exc.status_code >= 500 else "bad_request"
                raise self._error(kind, f"HTTP {exc.status_code}: {_short(exc.message)}") from exc
            except openai.OpenAIError as exc:
                raise self._error("other", f"{type(exc).__name__}: {_short(str(exc))}") from exc
            except (ValueError, TypeError, KeyError) as exc:  # a 200 whose body is not a completion
                raise self._error(
                    "bad_response", f"unreadable response: {type(exc).__name__}: {_short(str(exc))}"
                ) from exc
        return self._response(resp)

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

    def _error(self, kind: str, message: str) -> BackendError:
        self._meter.record_error(kind)
        return BackendError(f"{self.model_id}: {message}", kind)

    def _response(self, resp: Any) -> ChatResponse:
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
        )
        self._meter.record(out, self.model)
        return out


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

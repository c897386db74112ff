"""Fixtures for dysen tests: a warmed-up oracle, a real local OpenAI-compatible server, fast clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from dysen.chat import OpenAIChatModel
from dysen.nlp import load_nlp
from dysen.testing import DysenOracle, FakeChatServer

API_KEY = "sk-test-SECRET-0123456789"


@pytest.fixture(scope="session", autouse=True)
def _spacy_loaded() -> None:
    load_nlp()  # one pipeline for the whole session (the oracle and the planners share it)


@pytest.fixture
def oracle() -> DysenOracle:
    return DysenOracle(timeout_delay=1.0).warm_up()


@pytest.fixture
def server(oracle: DysenOracle) -> Iterator[FakeChatServer]:
    with FakeChatServer(oracle, retry_after_ms=2) as srv:
        yield srv


@pytest.fixture
def make_chat(server: FakeChatServer) -> Callable[..., OpenAIChatModel]:
    """OpenAI backends on the local server with tiny timeouts (0.3 s) and one retry."""

    def make(**kwargs) -> OpenAIChatModel:
        opts = {"base_url": server.base_url, "api_key": API_KEY, "timeout": 0.3, "max_retries": 1}
        opts.update(kwargs)
        return OpenAIChatModel("test-model", **opts)

    return make

"""Chat-model backends behind one small protocol (:class:`ChatModel`).

* :class:`OpenAIChatModel` — OpenAI or any OpenAI-compatible server, through the ``openai`` client;
* :class:`TransformersChatModel` — a local ``transformers`` causal LM;
* :class:`CassetteChatModel` — record/replay from a JSON Lines cassette;
* :class:`CachedChatModel` — wraps any of them with a persistent SQLite :class:`ResponseCache`.
"""

from .accounting import DEFAULT_PRICES, Price, UsageMeter
from .cache import CachedChatModel, ResponseCache
from .cassette import CassetteChatModel
from .openai_backend import OpenAIChatModel
from .sync import run_sync
from .transformers_backend import TransformersChatModel
from .types import ChatModel, ChatRequest, ChatResponse, Usage, request_key

__all__ = [
    "DEFAULT_PRICES",
    "CachedChatModel",
    "CassetteChatModel",
    "ChatModel",
    "ChatRequest",
    "ChatResponse",
    "OpenAIChatModel",
    "Price",
    "ResponseCache",
    "TransformersChatModel",
    "Usage",
    "UsageMeter",
    "request_key",
    "run_sync",
]

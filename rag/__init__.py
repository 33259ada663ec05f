"""digest-rag: search and cited answers over AI-research digests and the papers they link.

>>> from rag import ask, search, Assistant
>>> ans = ask("Which papers adapt foundation models to head CT?")
>>> print(ans.text)
"""

import os as _os

_os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a model hub at run time
_os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from .assistant import Assistant, ask, default_assistant, search  # noqa: E402
from .errors import RagError  # noqa: E402
from .records import Answer, Chunk, Citation, Digest, Hit, Paper  # noqa: E402
from .settings import Settings  # noqa: E402

__all__ = ["Assistant", "Answer", "Chunk", "Citation", "Digest", "Hit", "Paper", "RagError",
           "Settings", "ask", "default_assistant", "search"]

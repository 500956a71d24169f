"""The one place that prepares the process for llama-index (DEPENDENCIES trap 4).

tiktoken downloads its encodings on first use; llama-index ships them. Pointing
`TIKTOKEN_CACHE_DIR` at that copy keeps every tokenizer in the process offline.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

__all__ = ["ensure_tiktoken_cache"]


def ensure_tiktoken_cache() -> None:
    """Set `TIKTOKEN_CACHE_DIR` to llama-index's bundled cache unless the operator set one."""
    if os.environ.get("TIKTOKEN_CACHE_DIR"):
        return
    spec = importlib.util.find_spec("llama_index.core")
    if spec is None or not spec.submodule_search_locations:
        return
    cache = Path(next(iter(spec.submodule_search_locations))) / "_static" / "tiktoken_cache"
    if cache.is_dir():
        os.environ["TIKTOKEN_CACHE_DIR"] = str(cache)

"""The real server in a subprocess (`budbringer serve`), for benchmarks and reliability tests.

`prepare_data_dir` fills a data dir with what a first start would otherwise build: a help-centre
index over a few topics (seconds, not the minutes of the full help centre) and a small ETA model.
`ServerProcess` starts `budbringer serve` on a free loopback port with only the `BUDBRINGER_*`
variables given (never the caller's), waits for `/readyz`, and stops it with SIGTERM or SIGKILL.
Its log goes to a file beside the data dir, shown when the server fails to become ready.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

import httpx

__all__ = ["NOW", "ServerProcess", "copy_topics", "free_port", "prepare_data_dir"]

NOW = "2026-11-23T12:00:00+01:00"
ROOT = Path(__file__).resolve().parents[1]
CONTENT = ROOT / "knowledge" / "content"
LANGUAGES = ("da", "sv", "nb", "fi", "en")


def copy_topics(target: Path, topics: tuple[str, ...]) -> Path:
    """A help-centre folder with only `topics` (in all five languages)."""
    for language in LANGUAGES:
        (target / language).mkdir(parents=True, exist_ok=True)
        for topic in topics:
            shutil.copy(CONTENT / language / f"{topic}.md", target / language / f"{topic}.md")
    return target


def prepare_data_dir(data_dir: Path, content_dir: Path, *, embedder: Any = None) -> float:
    """Build the index of `content_dir` and a small ETA model into `data_dir`; seconds taken."""
    from assistant.embedding import E5Embedder
    from assistant.eta.model import EtaModel
    from assistant.eta.synthetic import generate_shipments
    from knowledge.reindex import Reindexer
    from retrieval.edge_store import EdgeKnowledgeStore

    started = time.perf_counter()
    store = EdgeKnowledgeStore(data_dir / "knowledge")
    try:
        report = Reindexer(
            store, embedder or E5Embedder(num_threads=1), content_dir, data_dir / "knowledge"
        ).run(full=True)
    finally:
        store.close()
    if not report.switched:
        raise RuntimeError(f"index build failed: {report.message}")
    EtaModel.train(generate_shipments(300, seed=3), seed=3).save(data_dir / "models" / "eta.joblib")
    return time.perf_counter() - started


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServerProcess:
    """One `budbringer serve` process; `start()` again after `kill()` for a restart."""

    def __init__(
        self,
        settings: dict[str, str],
        log_path: Path,
        *,
        port: int | None = None,
        threads: int = 1,
    ) -> None:
        self.settings = settings
        self.log_path = log_path
        self.port = port or free_port()
        self.threads = threads
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BUDBRINGER_")}
        env.update({f"BUDBRINGER_{k.upper()}": v for k, v in self.settings.items()})
        env.setdefault("HF_HUB_OFFLINE", "1")
        env["OMP_NUM_THREADS"] = str(self.threads)
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        return env

    def start(self, timeout_s: float = 90) -> ServerProcess:
        budbringer = Path(sys.executable).parent / "budbringer"
        command = [str(budbringer), "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        command += ["--log-level", "warning"]
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=self._env(), stdout=self._log, stderr=subprocess.STDOUT
        )
        self.wait_ready(timeout_s)
        return self

    def wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        with httpx.Client(base_url=self.base_url, timeout=2) as client:
            while time.monotonic() < deadline:
                assert self.process is not None
                if self.process.poll() is not None:
                    raise RuntimeError(f"server exited ({self.process.returncode}):\n{self.log()}")
                try:
                    if client.get("/readyz").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server not ready after {timeout_s} s:\n{self.log()}")

    def log(self, tail: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-tail:]
        except OSError:
            return ""

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs (a crash, as far as the stores can tell)."""
        self._end(signal.SIGKILL)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not exit within 20 s."""
        self._end(signal.SIGTERM)

    def _end(self, sig: signal.Signals) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(sig)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> ServerProcess:
        return self if self.process is not None else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

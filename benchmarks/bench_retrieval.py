"""Retrieval benchmark: quality on our dataset and two public sets, reindex and query latency.

    python -m benchmarks.bench_retrieval [--quick] [--skip-public] [--skip-curve] [--calibrate]

Everything goes through the real ingestion (readers, splitter, llama-index pipeline, e5) into
Edge stores in a temporary data dir. `--calibrate` rewrites `retrieval/thresholds.json`: per
language, the abstention bar that answers 95 % of the in-scope questions.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import shutil
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from assistant.embedding import E5Embedder
from benchmarks._results import percentiles_ms, write_results
from knowledge.reindex import Reindexer
from retrieval.edge_store import EdgeKnowledgeStore
from retrieval.lexical import LANGUAGES, encode_document, encode_query
from retrieval.retriever import THRESHOLDS_FILE, HybridRetriever, load_thresholds
from retrieval.store import ChunkPoint, SearchMode

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "benchmarks"
MODES: tuple[SearchMode, ...] = ("dense", "lexical", "hybrid")


def _ranking(store: Any, embedder: E5Embedder, text: str, lang: str, mode: SearchMode) -> list[str]:
    hits = store.query(
        embedder.embed_query(text), encode_query(text, lang), lang, limit=60, mode=mode
    )
    order: list[str] = []
    for hit in hits:
        article = str(hit.payload["article_id"])
        if article not in order:
            order.append(article)
    return order


def _scores(rankings: list[tuple[list[str], str]], ks: tuple[int, ...]) -> dict[str, float]:
    n = len(rankings) or 1
    out = {f"hit@{k}": sum(gold in r[:k] for r, gold in rankings) / n for k in ks}
    out["mrr"] = sum(1 / (r.index(gold) + 1) if gold in r else 0.0 for r, gold in rankings) / n
    return {k: round(v, 3) for k, v in out.items()} | {"n": len(rankings)}


def _build(content: Path, state: Path, embedder: E5Embedder) -> tuple[EdgeKnowledgeStore, Any]:
    report = Reindexer(EdgeKnowledgeStore(state), embedder, content, state).run(full=True)
    if not report.switched:
        raise SystemExit(f"index build failed: {report.message}")
    return EdgeKnowledgeStore(state), report


def own_dataset(questions: Path, work: Path, calibrate: bool) -> dict[str, Any]:
    content = work / "content"
    shutil.copytree(REPO / "knowledge" / "content", content)
    state = work / "data" / "knowledge"
    embedder = E5Embedder()
    started = time.perf_counter()
    store, report = _build(content, state, embedder)
    figures: dict[str, Any] = {
        "full_reindex_s": round(time.perf_counter() - started, 2),
        "full_reindex_chunks": report.embedded_chunks,
        "chunks_per_language": report.counts,
    }
    rows = [json.loads(line) for line in questions.read_text(encoding="utf-8").splitlines() if line]
    retriever = HybridRetriever(store, embedder)
    per_lang: dict[str, list[tuple[list[str], str]]] = defaultdict(list)
    per_mode: dict[str, list[tuple[list[str], str]]] = defaultdict(list)
    confidence: dict[str, list[float]] = defaultdict(list)
    outcomes = {"oos": 0, "oos_abstained": 0, "in": 0, "in_abstained": 0, "fell_back": 0}
    misses = []
    for row in rows:
        lang, gold = row["language"], row["article_id"]
        vector = embedder.embed_query(row["question"])
        found, _ = retriever.candidates(row["question"], lang, vector, 10)
        result = retriever.search(row["question"], lang, query_vector=vector)
        outcomes["fell_back"] += result.fell_back
        if gold is None:
            outcomes["oos"] += 1
            outcomes["oos_abstained"] += result.abstained
            continue
        outcomes["in"] += 1
        outcomes["in_abstained"] += result.abstained
        confidence[lang].append(retriever.confidence(found[0], lang) if found else 0.0)
        ranking = [str(c.hit.payload["article_id"]) for c in found]
        per_lang[lang].append((ranking, gold))
        if ranking[:1] != [gold]:
            misses.append(f"{row['id']}: got {ranking[:3]}")
        for mode in MODES:
            per_mode[mode].append((_ranking(store, embedder, row["question"], lang, mode), gold))
    abstained = outcomes["oos_abstained"] + outcomes["in_abstained"]
    figures["quality_by_language"] = {k: _scores(v, (1, 3)) for k, v in sorted(per_lang.items())}
    figures["quality_by_mode_all_languages"] = {k: _scores(v, (1, 3)) for k, v in per_mode.items()}
    figures["abstention"] = {
        "out_of_scope_questions": outcomes["oos"],
        "recall": round(outcomes["oos_abstained"] / max(outcomes["oos"], 1), 3),
        "precision": round(outcomes["oos_abstained"] / max(abstained, 1), 3),
        "false_abstention_rate": round(outcomes["in_abstained"] / max(outcomes["in"], 1), 3),
        "fell_back_to_english": outcomes["fell_back"],
    }
    figures["top1_misses"] = misses
    if calibrate:
        figures["calibrated_thresholds"] = _calibrate(confidence)
    figures |= _reindex_and_latency(content, state, store, rows)
    store.close()
    return figures


def _calibrate(confidence: dict[str, list[float]], false_rate: float = 0.05) -> dict[str, Any]:
    current: dict[str, Any] = json.loads(THRESHOLDS_FILE.read_text(encoding="utf-8"))
    for lang, values in confidence.items():
        ordered = sorted(values)
        index = max(0, math.floor(false_rate * len(ordered)))
        bar = ordered[index] - 1e-4
        current[lang] = {**current.get(lang, current["default"]), "min_score": round(bar, 4)}
    THRESHOLDS_FILE.write_text(json.dumps(current, indent=2) + "\n", encoding="utf-8")
    return current


def _reindex_and_latency(
    content: Path, state: Path, store: EdgeKnowledgeStore, rows: list[dict[str, Any]]
) -> dict[str, Any]:
    article = content / "da" / "returns.md"
    article.write_text(article.read_text(encoding="utf-8") + "\nHusk kvitteringen.\n", "utf-8")
    started = time.perf_counter()
    report = Reindexer(EdgeKnowledgeStore(state), E5Embedder(), content, state).run()
    figures: dict[str, Any] = {
        "incremental_reindex_s": round(time.perf_counter() - started, 2),
        "incremental_reindex_embedded_chunks": report.embedded_chunks,
        "incremental_reindex_reused_chunks": report.reused_chunks,
    }
    cold = E5Embedder()  # empty query cache: every search embeds its question
    retriever = HybridRetriever(store, cold)
    retriever.search("warm up", "en")
    with_embedding, cached = [], []
    for row in rows:
        t0 = time.perf_counter()
        retriever.search(row["question"], row["language"])
        with_embedding.append(time.perf_counter() - t0)
    for row in rows:
        t0 = time.perf_counter()
        retriever.search(row["question"], row["language"])
        cached.append(time.perf_counter() - t0)
    figures["search_latency_with_embedding"] = percentiles_ms(with_embedding)
    figures["search_latency_cached_embedding"] = percentiles_ms(cached)
    return figures


def _public(
    name: str, articles: dict[str, str], questions: list[tuple[str, str]], lang: str, work: Path
) -> dict[str, Any]:
    content = work / name / "content" / lang
    content.mkdir(parents=True)
    for article_id, text in articles.items():
        (content / f"{article_id}.txt").write_text(text, encoding="utf-8")
    embedder = E5Embedder()
    started = time.perf_counter()
    store, report = _build(content.parent, work / name / "knowledge", embedder)
    out: dict[str, Any] = {"documents": len(articles), "chunks": sum(report.counts.values())}
    out["index_s"] = round(time.perf_counter() - started, 1)
    for mode in MODES:
        rankings = [(_ranking(store, embedder, q, lang, mode), gold) for q, gold in questions]
        out[mode] = _scores(rankings, (1, 5))
    store.close()
    return out


def public_sets(norquad: Path, swefaq: Path, work: Path) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    passages = sorted(norquad.glob("*passages.jsonl"))
    if passages:
        docs = [json.loads(x) for x in passages[0].read_text(encoding="utf-8").splitlines() if x]
        qfile = next(iter(sorted(norquad.glob("*questions.jsonl"))), None)
        qs = (
            [json.loads(x) for x in qfile.read_text(encoding="utf-8").splitlines() if x]
            if qfile
            else []
        )
        articles = {f"norquad-{d['document_id']}": d["text"] for d in docs}
        questions = [(q["question"], f"norquad-{q['document_id']}") for q in qs]
        figures["norquad_nb"] = _public("norquad", articles, questions, "nb", work)
    else:
        print(f"NorQuAD not found under {norquad}: skipped")
    if swefaq.exists():
        rows = [json.loads(x) for x in swefaq.read_text(encoding="utf-8").splitlines() if x]
        answers: dict[str, str] = {}
        questions = []
        for row in rows:
            for text in row["candidate_answers"]:
                answers.setdefault(text, f"swefaq-{len(answers) + 1}")
            questions.append((row["question"], answers[row["candidate_answers"][row["label"]]]))
        figures["swefaq_sv"] = _public(
            "swefaq", {v: k for k, v in answers.items()}, questions, "sv", work
        )
    else:
        print(f"SweFAQ not found at {swefaq}: skipped")
    return figures


def latency_curve(sizes: list[int], work: Path, queries: int = 100) -> dict[str, Any]:
    rng = random.Random(7)
    vocabulary = [f"ord{i}" for i in range(5000)]
    weights = [1 / (i + 1) for i in range(len(vocabulary))]

    def unit(dim: int = 384) -> list[float]:
        v = [rng.gauss(0, 1) for _ in range(dim)]
        n = math.sqrt(sum(x * x for x in v))
        return [x / n for x in v]

    figures: dict[str, Any] = {}
    for size in sizes:
        points = []
        for i in range(size):
            lang = LANGUAGES[i % len(LANGUAGES)]
            text = " ".join(rng.choices(vocabulary, weights, k=80))
            points.append(
                ChunkPoint(
                    id=f"00000000-0000-4000-8000-{i:012d}",
                    dense=unit(),
                    lexical=encode_document(text, lang),
                    payload={"article_id": f"a{i // 3}", "language": lang, "text": ""},
                )
            )
        asks = [
            (unit(), encode_query(" ".join(rng.choices(vocabulary, weights, k=6)), "da"))
            for _ in range(queries)
        ]
        for exact in (True, False):
            label = f"{size}_{'exact' if exact else 'hnsw'}"
            store = EdgeKnowledgeStore(work / "curve" / label, exact=exact)
            version = store.create_version(384)
            t0 = time.perf_counter()
            store.upsert(version, points)
            store.finish_version(version)
            build = time.perf_counter() - t0
            store.activate(version)
            samples = []
            for dense, lexical in asks:
                t1 = time.perf_counter()
                store.query(dense, lexical, "da", limit=12, with_vectors=True)
                samples.append(time.perf_counter() - t1)
            figures[label] = {"build_s": round(build, 1), **percentiles_ms(samples)}
            print(label, figures[label], flush=True)
            store.close()
            shutil.rmtree(work / "curve" / label, ignore_errors=True)
    return figures


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="bench_retrieval", description=__doc__)
    parser.add_argument(
        "--questions", type=Path, default=REPO / "evals" / "datasets" / "retrieval_questions.jsonl"
    )
    parser.add_argument("--norquad", type=Path, default=SHARED / "norquad")
    parser.add_argument("--swefaq", type=Path, default=SHARED / "swefaq" / "swefaq_dev.jsonl")
    parser.add_argument("--quick", action="store_true", help="latency curve up to 10k chunks")
    parser.add_argument("--skip-public", action="store_true")
    parser.add_argument("--skip-curve", action="store_true")
    parser.add_argument(
        "--calibrate", action="store_true", help="rewrite retrieval/thresholds.json"
    )
    args = parser.parse_args(argv)
    figures: dict[str, Any] = {"thresholds": {k: vars(v) for k, v in load_thresholds().items()}}
    with tempfile.TemporaryDirectory(prefix="bench-retrieval-") as tmp:
        work = Path(tmp)
        figures["own_dataset"] = own_dataset(args.questions, work, args.calibrate)
        if not args.skip_public:
            figures["public"] = public_sets(args.norquad, args.swefaq, work)
        if not args.skip_curve:
            sizes = [1_000, 10_000] if args.quick else [1_000, 10_000, 100_000]
            figures["latency_curve_edge"] = latency_curve(sizes, work)
    write_results("retrieval", figures)
    return figures


if __name__ == "__main__":
    main()

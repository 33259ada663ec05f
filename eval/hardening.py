"""Hardening benchmark: index integrity, builds at 1,000 digests, and answering through a rebuild.

    python -m eval.hardening                 # all three parts, real bundled model
    python -m eval.hardening --parts corruption,scale --copies 200

* **corruption**: every file of a built index is damaged in turn (cut in half, emptied, 8 random
  bytes flipped at three places, deleted); loading must refuse each one.
* **scale**: 200 copies of the five seed digests (1,000 files) are indexed by the real
  ``rag index`` command: the first build must embed each distinct text once (as many as the five
  digests alone need, built in the same run), and a second ``rag index`` of the unchanged
  corpus must finish in seconds (target <= 5 s, process start included).
* **reload**: the real app (``app.py``, a subprocess) serves the corpus; 16 users
  (``gradio_client``, one thread each) ask 20 questions each through its ``/ask`` API, while
  another process runs ``rag index`` after a new digest lands in the corpus. Every question
  about the new digest asked 5 s or more after that build finished must be answered from the
  new index (not abstained, the new paper quoted); errors must be 0. ``--in-process`` runs the
  users as threads on one Assistant instead.

Writes ``eval/results/hardening.json`` and the "## Hardening" section of ``eval/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from tqdm.auto import tqdm  # noqa: E402

from rag import Assistant, Settings  # noqa: E402
from rag.errors import IndexStateError  # noqa: E402
from rag.index.build import build_index  # noqa: E402
from rag.index.load import current_folder, load_index  # noqa: E402

from .report import replace_section  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
RAG = [sys.executable, "-m", "rag.cli"]
NEW_DIGEST = """Latest 3 papers on Quantum Knitting: June 20, 2026

Knitting Qubits with Yarn Transformers
- YarnFormer: Researchers present YarnFormer, a transformer that knits qubits into woollen
  circuits, and release it at https://github.com/example/yarnformer.
"""
NEW_QUESTION = "What is YarnFormer, the transformer that knits qubits into woollen circuits?"
OLD_QUESTIONS = ["Where is the code for ZACAF?", "Which works deal with EEG signals?",
                 "Which work uses transfer learning to detect peatland fires?",
                 "Who wrote the load disaggregation paper?"]


def corruption(work: Path) -> dict:
    """Damage every index file four ways; count how often load refuses it."""
    s = Settings(corpus_dir=CORPUS, index_dir=work / "index")
    build_index(s, Assistant(settings=s).embedder, progress=False)
    folder = current_folder(s.index_dir)
    assert folder is not None
    backup = work / "pristine"
    shutil.copytree(folder, backup)
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    rng = random.Random(0)
    cases = detected = 0
    missed: list[str] = []
    kinds = ("half", "empty", "random_bytes", "delete")
    for rel in tqdm(files, desc="corrupting index files", unit="file"):
        for kind in kinds:
            path = folder / rel
            data = bytearray(path.read_bytes())
            if kind == "half":
                path.write_bytes(bytes(data[: len(data) // 2]))
            elif kind == "empty":
                path.write_bytes(b"")
            elif kind == "delete":
                path.unlink()
            else:
                for _ in range(3):
                    at = rng.randrange(max(1, len(data) - 8))
                    for i in range(at, min(at + 8, len(data))):
                        data[i] ^= rng.randrange(1, 256)
                path.write_bytes(bytes(data))
            cases += 1
            try:
                load_index(s, None)
            except IndexStateError:
                detected += 1
            else:
                missed.append(f"{rel}:{kind}")
            shutil.rmtree(folder)
            shutil.copytree(backup, folder)
    return {"files": len(files), "kinds": list(kinds), "cases": cases, "detected": detected,
            "missed": missed}


def _rag_index(corpus: Path, index: Path) -> tuple[float, str]:
    t = time.perf_counter()
    out = subprocess.run([*RAG, "--corpus", str(corpus), "--index", str(index), "index"],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    return time.perf_counter() - t, out.stdout.strip()


def scale(work: Path, copies: int) -> dict:
    """``rag index`` on ``copies`` x the 5 seed digests: first build, then unchanged."""
    corpus = work / "corpus-many"
    shutil.copytree(CORPUS / "arxiv", corpus / "arxiv")
    for n in range(copies):
        for src in sorted(CORPUS.glob("*.txt")):
            shutil.copy(src, corpus / f"{src.stem}-{n:03d}.txt")
    single_s, single_out = _rag_index(CORPUS, work / "index-five")
    print(single_out)
    first_s, first_out = _rag_index(corpus, work / "index-many")
    print(first_out)
    again_s, again_out = _rag_index(corpus, work / "index-many")
    print(again_out)
    embedded = json.loads((current_folder(work / "index-many") / "manifest.json")
                          .read_text())["embedded"]
    five = json.loads((current_folder(work / "index-five") / "manifest.json")
                      .read_text())["embedded"]
    return {"digests": copies * 5, "five_digests_build_s": round(single_s, 2),
            "five_digests_embedded": five, "first_build_s": round(first_s, 2),
            "first_build_embedded": embedded, "unchanged_index_s": round(again_s, 2),
            "unchanged_output": again_out}


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _app_asker(corpus: Path, index: Path) -> tuple[subprocess.Popen, object]:
    """Start app.py on the corpus; return (process, ask(question) -> (abstained, text))."""
    from gradio_client import Client

    port = _free_port()
    env = {**os.environ, "RAG_CORPUS_DIR": str(corpus), "RAG_INDEX_DIR": str(index),
           "RAG_CONCURRENCY": "16"}
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 300
    while True:
        try:
            Client(url, verbose=False)
            break
        except Exception:  # noqa: BLE001 - not up yet
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"app.py did not start: {proc.stderr.read()[-2000:]}")
            time.sleep(1)
    local = threading.local()

    def ask(q: str) -> tuple[bool, str]:
        if not hasattr(local, "client"):
            local.client = Client(url, verbose=False)
        out = local.client.predict(q, api_name="/ask")
        return bool(out["abstained"]), str(out["answer"])

    return proc, ask


def reload(work: Path, users: int, questions: int, in_process: bool = False) -> dict:
    """Users ask while another process re-indexes a changed corpus."""
    corpus = work / "corpus-reload"
    shutil.copytree(CORPUS, corpus)
    s = Settings(corpus_dir=corpus, index_dir=work / "index-reload")
    proc = None
    if in_process:
        a = Assistant(settings=s)

        def ask(q: str) -> tuple[bool, str]:
            ans = a.ask(q)
            return ans.abstained, ans.text
    else:
        _rag_index(corpus, s.index_dir)
        proc, ask = _app_asker(corpus, s.index_dir)
    ask(OLD_QUESTIONS[0])  # built and warm, as a running app is
    done: dict[str, float] = {}
    log: list[dict] = []
    lock = threading.Lock()
    t0 = time.perf_counter()

    def rebuild() -> None:
        time.sleep(2.0)
        (corpus / "990_knitting.txt").write_text(NEW_DIGEST, encoding="utf-8")
        seconds, out = _rag_index(corpus, s.index_dir)
        done["build_finished"] = time.perf_counter() - t0
        done["build_s"] = seconds
        done["output"] = out  # type: ignore[assignment]

    def user(u: int) -> None:
        rng = random.Random(u)
        for i in range(questions):
            q = NEW_QUESTION if i % 2 else OLD_QUESTIONS[(u + i) % len(OLD_QUESTIONS)]
            asked = time.perf_counter() - t0
            row = {"user": u, "question": q, "asked": asked}
            try:
                abstained, text = ask(q)  # type: ignore[operator]
                row["new_index"] = not abstained and "YarnFormer" in text
                row["seconds"] = time.perf_counter() - t0 - asked
            except Exception as err:  # noqa: BLE001 - counted as an error, the run goes on
                row["error"] = f"{type(err).__name__}: {err}"
            with lock:
                log.append(row)
            time.sleep(rng.uniform(1.0, 2.0))  # a question every ~1.5 s per user: ~30 s

    builder = threading.Thread(target=rebuild)
    threads = [threading.Thread(target=user, args=(u,)) for u in range(users)]
    builder.start()
    for t in threads:
        t.start()
    builder.join()
    for t in threads:
        t.join()
    if proc is not None:
        proc.terminate()
        proc.wait(timeout=30)
    finished = done.get("build_finished", float("inf"))
    late = [r for r in log if r["question"] == NEW_QUESTION and r["asked"] >= finished + 5]
    return {"via": "one Assistant, threads" if in_process else "app.py /ask API, gradio_client",
            "users": users, "questions_each": questions, "asked": len(log),
            "errors": sum("error" in r for r in log),
            "error_examples": [r["error"] for r in log if "error" in r][:3],
            "build_finished_at_s": round(finished, 2), "build_s": round(done.get("build_s", 0), 2),
            "asked_5s_after_build": len(late),
            "answered_from_new_index": sum(bool(r.get("new_index")) for r in late),
            "run_s": round(max((r["asked"] for r in log), default=0), 2)}


def markdown(r: dict) -> str:
    c, s, rl = r.get("corruption"), r.get("scale"), r.get("reload")
    lines = ["## Hardening", "",
             f"`python -m eval.hardening` ({r['date']}, {r['machine']}, real bundled model). "
             "JSON: `eval/results/hardening.json`.", ""]
    if c:
        lines += [f"- **Index integrity**: {c['detected']} of {c['cases']} damaged indexes "
                  f"refused ({c['files']} files x {', '.join(c['kinds'])}); missed: "
                  f"{', '.join(c['missed']) or 'none'}."]
    if s:
        lines += [f"- **{s['digests']} digests (200 copies of the 5 seeds)**: the first "
                  f"`rag index` embedded {s['first_build_embedded']} texts in "
                  f"{s['first_build_s']} s; the 5 digests alone need "
                  f"{s['five_digests_embedded']} ({s['five_digests_build_s']} s, same run). "
                  f"`rag index` again on the unchanged corpus: **{s['unchanged_index_s']} s** "
                  "(process start included; target <= 5 s)."]
    if rl:
        lines += [f"- **Rebuild while answering**: {rl['users']} users x "
                  f"{rl['questions_each']} questions ({rl.get('via', 'one Assistant')}), "
                  "`rag index` of a changed "
                  f"corpus in another process finished at {rl['build_finished_at_s']} s "
                  f"(took {rl['build_s']} s): {rl['errors']} errors in {rl['asked']} "
                  f"questions; {rl['answered_from_new_index']} of {rl['asked_5s_after_build']} "
                  "questions about the new digest asked 5 s or more after the build were "
                  "answered from the new index."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--parts", default="corruption,scale,reload")
    p.add_argument("--copies", type=int, default=200)
    p.add_argument("--users", type=int, default=16)
    p.add_argument("--questions", type=int, default=20)
    p.add_argument("--in-process", action="store_true", help="reload: threads on one "
                   "Assistant instead of users of the running app")
    p.add_argument("--no-write", action="store_true", help="print, do not update the report")
    args = p.parse_args(argv)
    parts = set(args.parts.split(","))
    out = ROOT / "eval" / "results" / "hardening.json"
    r = json.loads(out.read_text()) if out.is_file() else {}
    r.update({"date": time.strftime("%Y-%m-%d"),
              "machine": f"{platform.machine()}, {os.cpu_count()} cores"})
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if "corruption" in parts:
            r["corruption"] = corruption(work / "c")
        if "scale" in parts:
            r["scale"] = scale(work / "s", args.copies)
        if "reload" in parts:
            r["reload"] = reload(work / "r", args.users, args.questions, args.in_process)
    print(json.dumps(r, indent=1))
    if not args.no_write:
        out.write_text(json.dumps(r, indent=1) + "\n", encoding="utf-8")
        replace_section(ROOT / "eval" / "RESULTS.md", "## Hardening", markdown(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())

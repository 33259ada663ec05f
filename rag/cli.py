"""Command line: ``rag index | ask | search | papers | status | fetch-abstracts | serve-llm``.

Wires the library together and prints; errors are shown as one message with a fix, never a
traceback. Exit codes: 0 done, 2 bad input (a question, a setting, a corpus or document the
user gave: ``RagError.exit_code``), 1 any other failure (a damaged or missing index, an
unreachable service, a missing package or model, a library that cannot load), 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from rag.assistant import Assistant
from rag.errors import RagError, SettingsError
from rag.output.export import cited_papers, export
from rag.output.portable import answer_markdown
from rag.records import to_dict
from rag.settings import LLM_BACKENDS


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rag", description="Search and cited answers over "
                                "AI-research digests.")
    p.add_argument("--corpus", help="corpus folder (default: RAG_CORPUS_DIR or ./corpus)")
    p.add_argument("--index", help="index folder (default: RAG_INDEX_DIR or ./index)")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("index", help="build or refresh the index (only changed chunks embed)")
    s.add_argument("--rebuild", action="store_true", help="re-embed everything")

    def filters(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--since", help="only digests dated on/after YYYY-MM-DD")
        sp.add_argument("--until", help="only digests dated on/before YYYY-MM-DD")
        sp.add_argument("--digest", help="only this digest (id or part of its title)")
        sp.add_argument("--has-code", action="store_true", default=None,
                        help="only papers with a code link")
        sp.add_argument("--json", action="store_true", help="machine-readable output")

    s = sub.add_parser("ask", help="answer a question with cited papers")
    s.add_argument("question")
    filters(s)
    s.add_argument("--format", choices=["text", "markdown", "json", "bibtex", "ris"],
                   default=None, help="text (default); markdown: safe, with every reference "
                   "linked; json (= --json); bibtex or ris: the cited papers")
    s.add_argument("--llm", choices=LLM_BACKENDS, help="who writes the answer (default: "
                   "RAG_LLM_BACKEND); 'local' runs the bundled SmolLM2 (`make llm`)")
    s.add_argument("--llm-model", help="model name, or .gguf path for llamacpp and local "
                   "(default: RAG_LLM_MODEL)")
    s = sub.add_parser("search", help="show the most relevant passages")
    s.add_argument("query")
    s.add_argument("-k", type=int, default=10, help="number of results (default 10)")
    s.add_argument("--by-paper", action="store_true", help="one result per paper")
    filters(s)
    s = sub.add_parser("papers", help="list every extracted paper with its fields and mentions")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.add_argument("--bibtex", action="store_true", help="every paper as BibTeX")
    s.add_argument("--ris", action="store_true", help="every paper as RIS")
    sub.add_parser("status", help="show the index state, counts and model")
    sub.add_parser("fetch-abstracts", help="fetch arXiv abstracts of the papers into "
                   "corpus/arxiv/ (cached; works offline afterwards) and refresh the index")
    s = sub.add_parser("serve-llm", help="serve a GGUF model with llama.cpp's OpenAI-compatible "
                       "API on 127.0.0.1 (for RAG_LLM_BASE_URL), until Ctrl-C")
    s.add_argument("--gguf", help="a .gguf file (default: RAG_LLM_MODEL if it is one, else the "
                   "bundled SmolLM2-135M-Instruct of `make llm`)")
    s.add_argument("--port", type=int, default=8089, help="port on 127.0.0.1 (default 8089)")
    s.add_argument("--ctx", type=int, default=4096, help="context window in tokens (default 4096)")
    s.add_argument("--threads", type=int, default=0, help="CPU threads (default: all)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rag`` console script."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(message)s")
    try:
        if args.command == "serve-llm":
            return _serve_llm(args)
        try:
            assistant = Assistant(corpus_dir=args.corpus, index_dir=args.index, progress=True)
        except ValidationError as err:
            raise SettingsError.from_validation(err) from None
        return _run(args, assistant)
    except RagError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except (ImportError, MemoryError) as err:  # a library that cannot load, e.g. under ulimit
        print(f"error: a library could not be loaded ({type(err).__name__}: {err}). Fix: "
              "reinstall with `make install`, or give the process more memory (building the "
              "index loads the embedding model, about 1 GB)", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _serve_llm(args: argparse.Namespace) -> int:
    from rag.answer.local_llm import serve

    env = os.environ.get("RAG_LLM_MODEL", "")
    serve(args.gguf or (env if env.endswith(".gguf") else None), port=args.port, n_ctx=args.ctx,
          threads=args.threads, quiet=not args.verbose)
    return 0


def _filters(args: argparse.Namespace) -> dict:
    return {"since": args.since, "until": args.until, "digest": args.digest,
            "has_code": args.has_code}


def _run(args: argparse.Namespace, a: Assistant) -> int:
    if args.command == "index":
        r = a.build(rebuild=args.rebuild)
        if r.up_to_date:
            print(f"Index in {r.folder} is up to date ({r.digests} digests, {r.papers} papers, "
                  f"{r.chunks} chunks; checked in {r.seconds:.1f}s): embedded 0 chunks, "
                  "nothing rewritten.")
            return 0
        print(f"Indexed {r.digests} digests, {r.papers} papers, {r.chunks} chunks into "
              f"{r.folder} in {r.seconds:.1f}s: embedded {r.embedded} chunks, reused {r.reused}.")
        for w in r.warnings:
            print(f"warning: {w}", file=sys.stderr)
        return 0
    if args.command == "fetch-abstracts":
        fetched = a.fetch_abstracts()
        for m in fetched.messages:
            print(m, file=sys.stderr)
        print(f"arXiv abstracts: {fetched.fetched} fetched, {fetched.cached} already cached, "
              f"{fetched.not_found} not found, {fetched.failed} failed"
              + (" (offline: used the cache)" if fetched.offline else "")
              + (". Index refreshed." if fetched.fetched else "."))
        return 0
    if args.command == "status":
        state, reason = a.state()
        print(f"index: {state} ({reason})")
        if state == "ok":
            print(json.dumps(a.status(), indent=1))
        return 0
    if args.command == "ask":
        llm = {k: v for k, v in (("llm_backend", args.llm), ("llm_model", args.llm_model)) if v}
        if llm:
            a.settings = a.settings.model_copy(update=llm)
        ans = a.ask(args.question, **_filters(args))
        fmt = args.format or ("json" if args.json else "text")
        if fmt in ("bibtex", "ris"):
            print(export(cited_papers(ans), fmt, a.index.digests), end="")
        elif fmt == "markdown":
            print(answer_markdown(ans))
        elif fmt == "json":
            print(json.dumps({"question": ans.question, "text": ans.text,
                              "abstained": ans.abstained, "notes": list(ans.notes),
                              "lead": ans.lead, "caveats": list(ans.caveats),
                              "items": [{"title": i.title, "authors": list(i.authors),
                                         "quotes": [to_dict(q) for q in i.quotes],
                                         "code_urls": list(i.code_urls)} for i in ans.items],
                              "citations": [_citation(c) for c in ans.citations]},
                             ensure_ascii=False, indent=1))
        else:
            print(ans.text)
        return 0
    if args.command == "search":
        hits = a.search(args.query, k=args.k, group_by_paper=args.by_paper, **_filters(args))
        if args.json:
            print(json.dumps([{"score": h.score, "text": h.text, "chunk_id": h.chunk.id,
                               "digest": to_dict(h.digest),
                               "paper": to_dict(h.paper) if h.paper else None}
                              for h in hits], ensure_ascii=False, indent=1))
        else:
            for i, h in enumerate(hits, 1):
                who = f" [{h.paper.title}]" if h.paper else ""
                print(f"{i:2d}. {h.digest.title} ({h.digest.date}){who}\n    {h.text[:300]}\n")
        return 0
    if args.command == "papers":
        papers = a.papers()
        if args.bibtex or args.ris:
            print(export(papers, "bibtex" if args.bibtex else "ris", a.index.digests), end="")
        elif args.json:
            print(json.dumps([to_dict(p) for p in papers], ensure_ascii=False, indent=1))
        else:
            for p in papers:
                print(f"- {p.title}" + (f" ({p.short_name})" if p.short_name else ""))
                if p.authors:
                    print(f"    authors (digest): {' / '.join(p.authors)}")
                if p.arxiv_authors:
                    print(f"    authors (arXiv):  {', '.join(p.arxiv_authors)}")
                if p.institutions:
                    print(f"    institutions: {', '.join(p.institutions)}")
                for url in p.code_urls:
                    print(f"    code: {url}")
                if p.arxiv_id:
                    print(f"    arXiv: {p.arxiv_url}")
                for issue in p.attribution_issues:
                    print(f"    warning: {issue}")
                print(f"    in: {', '.join(p.digest_ids)}")
            print(f"\n{len(papers)} papers")
        return 0
    raise AssertionError(args.command)


def _citation(c) -> dict:  # noqa: ANN001 - Citation
    return {"n": c.n, "text": c.text, "sentences": list(c.sentences),
            "paper": to_dict(c.paper) if c.paper else None, "digest": to_dict(c.digest)}


if __name__ == "__main__":
    sys.exit(main())

"""arXiv client and abstract cache, against a mock transport (never the network)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from rag.corpus.arxiv import (
    AbstractCache,
    ArxivClient,
    fetch_abstracts,
    parse_feed,
)
from rag.errors import ArxivError


def entry(aid: str, title: str, abstract: str = "An abstract.", authors=("Ann Lee",)) -> str:
    names = "".join(f"<author><name>{a}</name></author>" for a in authors)
    return (f"<entry><id>http://arxiv.org/abs/{aid}v2</id><title>{title}</title>"
            f"<summary>  {abstract}\n  </summary><published>2026-03-01T00:00:00Z</published>"
            f"{names}</entry>")


def feed(*entries: str) -> str:
    return ('<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom">'
            + "".join(entries) + "</feed>")


class FakeTime:
    """A clock that only moves when the client sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.now += s


def client_for(handler, t: FakeTime | None = None, **kw) -> ArxivClient:  # noqa: ANN001
    t = t or FakeTime()
    http = httpx.Client(transport=httpx.MockTransport(handler))
    return ArxivClient(http, sleep=t.sleep, clock=t.clock, **kw)


def ids_handler(calls: list) -> object:
    def handler(request: httpx.Request) -> httpx.Response:
        ids = request.url.params["id_list"].split(",")
        calls.append((ids, None))
        return httpx.Response(200, text=feed(*(entry(i, f"Paper {i}") for i in ids)))
    return handler


def test_parse_feed_and_errors() -> None:
    recs = parse_feed(feed(entry("2603.00675", "Specializing  Foundation\n Models",
                                 authors=("Youngjin Yoo", "Han Liu"))))
    assert recs == [{"arxiv_id": "2603.00675", "title": "Specializing Foundation Models",
                     "authors": ["Youngjin Yoo", "Han Liu"], "abstract": "An abstract.",
                     "published": "2026-03-01"}]
    with pytest.raises(ArxivError, match="malformed"):
        parse_feed("<feed><entry>")
    with pytest.raises(ArxivError, match="instead of an Atom feed"):
        parse_feed("<html><body>Service down</body></html>")


def test_100_ids_respect_rate_limit_and_resume_after_interruption(tmp_path: Path) -> None:
    ids = [f"2603.{n:05d}" for n in range(100)]
    calls: list = []
    t = FakeTime()
    inner = ids_handler(calls)

    def flaky(request: httpx.Request) -> httpx.Response:
        if len(calls) == 2:  # the process dies during the third request
            raise KeyboardInterrupt
        return inner(request)

    with pytest.raises(KeyboardInterrupt):
        fetch_abstracts(ids, [], tmp_path, client_for(flaky, t), batch=20, progress=False)
    assert len(AbstractCache(tmp_path).records) == 40  # two batches were saved
    t2 = FakeTime()
    report = fetch_abstracts(ids, [], tmp_path, client_for(inner, t2), batch=20,
                             progress=False)
    assert report.fetched == 60 and report.cached == 40
    refetched = [i for batch, _ in calls[2:] for i in batch]
    assert set(refetched) == set(ids[40:])  # nothing cached was fetched again
    assert len(t2.sleeps) == 2 and all(s >= 3.0 for s in t2.sleeps)  # 3 requests, 3 s apart
    assert len(AbstractCache(tmp_path).records) == 100


def test_503_and_timeout_are_retried_with_backoff(tmp_path: Path) -> None:
    answers = iter(["503", "timeout", "ok"])

    def handler(request: httpx.Request) -> httpx.Response:
        kind = next(answers)
        if kind == "503":
            return httpx.Response(503, text="busy")
        if kind == "timeout":
            raise httpx.ReadTimeout("slow", request=request)
        return httpx.Response(200, text=feed(entry("2603.00001", "A Paper")))

    t = FakeTime()
    report = fetch_abstracts(["2603.00001"], [], tmp_path, client_for(handler, t),
                             progress=False)
    assert report.fetched == 1 and not report.offline
    assert t.sleeps[:1] == [2.0] and 4.0 in t.sleeps  # exponential backoff 2 s, 4 s


def test_malformed_batch_is_reported_and_others_continue(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        ids = request.url.params["id_list"].split(",")
        if "2603.00000" in ids:
            return httpx.Response(200, text="<feed><oops")
        return httpx.Response(200, text=feed(*(entry(i, f"P {i}") for i in ids)))

    ids = [f"2603.{n:05d}" for n in range(4)]
    report = fetch_abstracts(ids, [], tmp_path, client_for(handler), batch=2, progress=False)
    assert report.failed == 2 and report.fetched == 2
    assert any("malformed" in m for m in report.messages)


def test_offline_says_so_once_and_keeps_cache(tmp_path: Path) -> None:
    (tmp_path / "abstracts.jsonl").write_text(json.dumps(
        {"arxiv_id": "2603.00001", "title": "Cached", "abstract": "Old."}) + "\n")

    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("no route to host", request=request)

    report = fetch_abstracts(["2603.00001", "2603.00002", "2603.00003"], ["Some Title"],
                             tmp_path, client_for(handler, retries=0), progress=False)
    assert report.offline and len(report.messages) == 1
    assert "unreachable" in report.messages[0] and "1 cached" in report.messages[0]
    assert report.cached == 1


def test_title_lookup_accepts_only_close_matches(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        q = request.url.params["search_query"]
        if "zebrafish" in q:
            return httpx.Response(200, text=feed(entry(
                "2402.09658", "Towards Precision Cardiovascular Analysis in Zebrafish: The ZACAF "
                "Paradigm")))
        return httpx.Response(200, text=feed(entry("9999.00001", "A Different Paper Entirely")))

    report = fetch_abstracts([], ["Towards Precision Cardiovascular Analysis in Zebrafish: The "
                                  "ZACAF Paradigm", "Revisiting the LiRA Membership Inference "
                                  "Attack"], tmp_path, client_for(handler), progress=False)
    cache = AbstractCache(tmp_path)
    assert report.fetched == 1 and report.not_found == 1
    assert set(cache.records) == {"2402.09658"}  # the near-miss title was not taken
    assert len(cache.misses) == 1
    again = fetch_abstracts([], ["Revisiting the LiRA Membership Inference Attack"], tmp_path,
                            client_for(handler), progress=False)
    assert again.fetched == 0 and again.not_found == 0  # the miss is remembered

"""arXiv: fetch paper abstracts from the arXiv API into an on-disk cache under ``corpus/``.

Papers are looked up by id (batched, ``id_list``) or, when no id is known, by title
(``ti:"..."``, accepted only above a normalised-title similarity threshold: no match beats a
wrong match). Requests are polite: one every ``min_interval`` seconds (3 s by default), with
timeouts and retries with exponential backoff on 5xx answers and timeouts. Every result is
appended to ``corpus/arxiv/abstracts.jsonl`` as soon as it arrives, so an interrupted fetch
resumes where it stopped and later runs work offline; offline, the fetch says so in one line
and carries on with the cache.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rag.errors import ArxivError, ArxivUnavailable
from rag.text import normalize_title, title_similarity

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

API_URL = "https://export.arxiv.org/api/query"
CACHE_FILE = "abstracts.jsonl"
MISSES_FILE = "abstracts.misses.json"  # titles looked up and not found (not *.jsonl on purpose)
_NS = {"a": "http://www.w3.org/2005/Atom", "arxiv": "http://arxiv.org/schemas/atom"}


def parse_feed(xml_text: str) -> list[dict]:
    """Records (arxiv_id, title, authors, abstract, published) of an arXiv Atom feed."""
    try:
        root = ET.fromstring(xml_text)
    except ET.ParseError as err:
        raise ArxivError(f"arXiv returned a malformed feed ({err}).",
                         "retry later; the batch is fetched again on the next run") from err
    if root.tag != f"{{{_NS['a']}}}feed":
        raise ArxivError(f"arXiv returned <{root.tag}> instead of an Atom feed.",
                         "retry later; the batch is fetched again on the next run")
    out = []
    for entry in root.findall("a:entry", _NS):
        raw_id = (entry.findtext("a:id", "", _NS) or "").strip()
        title = " ".join((entry.findtext("a:title", "", _NS) or "").split())
        if "api/errors" in raw_id or title.lower() == "error":
            raise ArxivError(f"arXiv reported an error: {entry.findtext('a:summary', '', _NS)}",
                             "check the ids being fetched")
        arxiv_id = raw_id.rsplit("/abs/", 1)[-1]
        arxiv_id = arxiv_id.split("v")[0] if "v" in arxiv_id.split(".")[-1] else arxiv_id
        if not arxiv_id or not title:
            continue
        out.append({
            "arxiv_id": arxiv_id, "title": title,
            "authors": [" ".join((a.findtext("a:name", "", _NS) or "").split())
                        for a in entry.findall("a:author", _NS)],
            "abstract": " ".join((entry.findtext("a:summary", "", _NS) or "").split()),
            "published": (entry.findtext("a:published", "", _NS) or "")[:10] or None,
        })
    return out


class ArxivClient:
    """A polite arXiv API client (httpx), with an injectable transport, clock and sleep."""

    def __init__(self, http: httpx.Client | None = None, *, base_url: str = API_URL,
                 min_interval: float = 3.0, timeout: float = 15.0, retries: int = 3,
                 backoff: float = 2.0, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        import httpx

        self._httpx = httpx
        self.http = http or httpx.Client(timeout=timeout, follow_redirects=True,
                                         headers={"User-Agent": "digest-rag/0.1"})
        self.base_url, self.min_interval, self.retries, self.backoff = (
            base_url, min_interval, retries, backoff)
        self.sleep, self.clock = sleep, clock
        self._last: float | None = None
        self.requests = 0

    def _wait_turn(self) -> None:
        if self._last is not None:
            wait = self.min_interval - (self.clock() - self._last)
            if wait > 0:
                self.sleep(wait)
        self._last = self.clock()

    def query(self, params: dict) -> list[dict]:
        """One API call (rate-limited, retried); parsed records."""
        httpx = self._httpx
        delay = self.backoff
        for attempt in range(self.retries + 1):
            self._wait_turn()
            self.requests += 1
            try:
                resp = self.http.get(self.base_url, params=params)
            except httpx.ConnectError as err:
                raise ArxivUnavailable(f"arXiv is unreachable ({err}).",
                                       "check the network; cached abstracts are used") from err
            except httpx.TimeoutException as err:
                problem = f"timed out ({err.__class__.__name__})"
            else:
                if resp.status_code == 200:
                    return parse_feed(resp.text)
                if resp.status_code < 500 and resp.status_code != 429:
                    raise ArxivError(f"arXiv answered HTTP {resp.status_code}.",
                                     "check the request parameters")
                problem = f"HTTP {resp.status_code}"
            if attempt < self.retries:
                log.info("arXiv %s; retrying in %.0f s", problem, delay)
                self.sleep(delay)
                delay *= 2
        raise ArxivUnavailable(f"arXiv kept failing ({problem}) after {self.retries + 1} tries.",
                               "retry later; what was fetched so far is cached")

    def by_ids(self, ids: list[str]) -> list[dict]:
        return self.query({"id_list": ",".join(ids), "max_results": str(len(ids))})

    def by_title(self, title: str, threshold: float = 0.92) -> dict | None:
        """The record whose normalised title matches ``title`` (similarity >= threshold)."""
        phrase = normalize_title(title)
        recs = self.query({"search_query": f'ti:"{phrase}"', "max_results": "5"})
        scored = [(title_similarity(title, r["title"]), r) for r in recs]
        scored = [s for s in scored if s[0] >= threshold]
        if not scored:
            return None
        scored.sort(key=lambda x: -x[0])
        if len(scored) > 1 and scored[1][0] == scored[0][0] and \
                scored[1][1]["arxiv_id"] != scored[0][1]["arxiv_id"]:
            return None  # two equally good matches: refuse to guess
        return scored[0][1]


class AbstractCache:
    """Append-only JSONL cache of fetched abstracts (one record per line) plus misses."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / CACHE_FILE
        self.misses_path = self.folder / MISSES_FILE
        self.records: dict[str, dict] = {}
        self.misses: set[str] = set()
        if self.path.exists():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut by a crash: fetched again
                if isinstance(rec, dict) and rec.get("arxiv_id") and rec.get("abstract"):
                    self.records[rec["arxiv_id"]] = rec
        if self.misses_path.exists():
            try:
                self.misses = set(json.loads(self.misses_path.read_text(encoding="utf-8")))
            except (json.JSONDecodeError, TypeError):
                self.misses = set()

    def add(self, rec: dict) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        rec = {**rec, "source": "arxiv",
               "fetched_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
            fh.flush()
        self.records[rec["arxiv_id"]] = rec

    def add_miss(self, title: str) -> None:
        self.misses.add(normalize_title(title))
        self.folder.mkdir(parents=True, exist_ok=True)
        self.misses_path.write_text(json.dumps(sorted(self.misses), indent=0), encoding="utf-8")


@dataclass
class FetchReport:
    """What a fetch did."""

    fetched: int = 0
    cached: int = 0
    not_found: int = 0
    failed: int = 0
    offline: bool = False
    messages: list[str] = field(default_factory=list)


def fetch_abstracts(wanted_ids: Iterable[str], wanted_titles: Iterable[str], folder: Path,
                    client: ArxivClient | None = None, batch: int = 20,
                    progress: bool = True) -> FetchReport:
    """Fetch abstracts for arXiv ids and, where no id is known, titles; cache everything."""
    from tqdm.auto import tqdm

    cache = AbstractCache(folder)
    ids = [i for i in dict.fromkeys(wanted_ids) if i]
    titles = [t for t in dict.fromkeys(wanted_titles) if t]
    report = FetchReport()
    todo_ids = [i for i in ids if i not in cache.records]
    known_titles = {normalize_title(r["title"]) for r in cache.records.values()}
    todo_titles = [t for t in titles if normalize_title(t) not in known_titles
                   and normalize_title(t) not in cache.misses]
    report.cached = len(ids) - len(todo_ids)
    if not todo_ids and not todo_titles:
        return report
    client = client or ArxivClient()
    bar = tqdm(total=len(todo_ids) + len(todo_titles), desc="Fetching arXiv abstracts",
               unit="paper", disable=not progress, leave=False)
    try:
        for i in range(0, len(todo_ids), batch):
            part = todo_ids[i:i + batch]
            try:
                got = {r["arxiv_id"]: r for r in client.by_ids(part)}
            except ArxivError as err:
                report.failed += len(part)
                report.messages.append(str(err))
                bar.update(len(part))
                continue
            for aid in part:
                if aid in got:
                    cache.add(got[aid])
                    report.fetched += 1
                else:
                    report.not_found += 1
            bar.update(len(part))
        for t in todo_titles:
            try:
                rec = client.by_title(t)
            except ArxivError as err:
                report.failed += 1
                report.messages.append(str(err))
                bar.update(1)
                continue
            if rec is None:
                cache.add_miss(t)
                report.not_found += 1
            elif rec["arxiv_id"] not in cache.records:
                cache.add(rec)
                report.fetched += 1
            bar.update(1)
    except ArxivUnavailable as err:
        report.offline = True
        report.messages.append(f"{err.message} Using the {len(cache.records)} cached "
                               "abstracts.")
    finally:
        bar.close()
    return report

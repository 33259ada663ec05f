"""Parse pool: run each corpus file's parser in a worker process, under a time limit.

Why processes. The parsers are written to be linear and read size-bounded input
(:mod:`rag.corpus.safe_read`), but they call libraries (pypdf, BeautifulSoup, the ``re`` and
``json`` C code) whose worst cases we do not control. A parse stuck inside C code cannot be
interrupted from Python, and ``signal.alarm`` only works in the main thread, while the app builds
its index in a background thread. A worker process can always be killed. So each file is one task
sent to a small pool of long-lived workers (``parse_workers``, default 2): a task that has not
answered after ``parse_timeout_s`` gets its worker killed and replaced, and the file is reported as
timed out. A worker that dies (a crash in C code, the memory killer) costs only its file, and any
exception a parser raises becomes that file's failure, never the build's.

How. Workers are plain ``python -c`` subprocesses talking pickled tasks and results over two
pipes (:class:`multiprocessing.connection.Connection`). Not ``multiprocessing.Process``: its
spawn and forkserver children re-import the parent's ``__main__`` (``app.py`` would import
Gradio in every worker), and ``fork`` is unsafe from the threaded app. One pool is shared by
the process (a lock serialises builds); a worker costs about half a second to start, once, and
exits by itself after a minute without work, so an idle app keeps no extra processes. A task
costs well under a millisecond of piping: the parent reads the files, workers get bytes and
return plain records. ``parse_workers=0`` parses in the calling process: exceptions are still
contained per file, but there is no time limit.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from rag.errors import DocumentError

log = logging.getLogger(__name__)

IDLE_EXIT_S = 60.0  # a worker without a task for this long exits (the pool starts a new one)
START_TIMEOUT_S = 120.0  # longest wait for a new worker to import the parsers
PRELOAD = ("rag.corpus.ingest", "rag.corpus.paper_texts", "rag.extract.metadata", "bs4", "pypdf")
_BYE, _READY = "bye", "ready"  # what a worker says when it retires / when it can take tasks
Job = tuple | Callable[[], tuple]  # a task's arguments, or what makes them (reads the file)


@dataclass(frozen=True)
class Outcome:
    """What one task came to: ``ok`` (``value`` is the parser's result), ``refused`` (the
    parser raised DocumentError: a file it cannot use, ``reason`` names it and the fix),
    ``failed`` (any other exception, or the worker died: a bug, contained) or ``timeout``
    (killed after the time limit)."""

    status: str
    value: Any = None
    reason: str = ""


def call(func: Callable[..., Any], args: tuple) -> Outcome:
    """Run ``func(*args)`` and contain whatever it raises in the Outcome."""
    try:
        return Outcome("ok", func(*args))
    except DocumentError as err:
        return Outcome("refused", reason=str(err))
    except RecursionError:
        return Outcome("failed", reason="nested too deeply to parse (RecursionError)")
    except Exception as err:  # noqa: BLE001 - a parser bug or a library's: this file fails, not the build
        text = f"{type(err).__name__}: {err}"
        return Outcome("failed", reason=text if len(text) <= 300 else text[:297] + "...")


def _die_with(parent: int) -> None:
    """End this worker when ``parent`` ends, even in the middle of a stuck parse: Linux kills
    it outright (PR_SET_PDEATHSIG); elsewhere a thread checks once a second (which a parse
    holding the GIL in C code delays until it returns)."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # it ended before the signal was armed
        os._exit(0)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


def serve(task_fd: int, result_fd: int, parent: int | None = None) -> None:
    """A worker's main loop: receive (func, args), send back an Outcome; stop on None, on EOF
    (the parent is gone) or after ``IDLE_EXIT_S`` without a task (saying goodbye first)."""
    if parent is not None:
        _die_with(parent)
    logging.getLogger().addHandler(logging.NullHandler())  # libraries' log lines: not shown
    warnings.simplefilter("ignore")  # (pypdf's); the parsers return their own warnings
    rx, tx = Connection(task_fd, writable=False), Connection(result_fd, readable=False)
    for name in PRELOAD:  # imported before the first task's clock starts
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    tx.send(_READY)
    while True:
        try:
            if not rx.poll(IDLE_EXIT_S):
                tx.send(_BYE)
                return
            task = rx.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        outcome = call(*task)
        try:
            tx.send(outcome)
        except (EOFError, OSError):
            return
        except Exception as err:  # noqa: BLE001 - an unpicklable result
            tx.send(Outcome("failed", reason=f"its result could not be returned ({err})"))


class _Worker:
    """One worker subprocess and its two pipe ends."""

    def __init__(self) -> None:
        task_r, task_w = os.pipe()
        result_r, result_w = os.pipe()
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parents[2])  # rag importable, installed or not
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-P", "-c",  # -P: the working folder is not on sys.path
                 f"from rag.corpus.parse_pool import serve; serve({task_r}, {result_w}, "
                 f"{os.getpid()})"],
                pass_fds=(task_r, result_w), stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, env=env)
        except BaseException:
            for fd in (task_r, task_w, result_r, result_w):
                os.close(fd)
            raise
        os.close(task_r)
        os.close(result_w)
        self.tx = Connection(task_w, readable=False)
        self.rx = Connection(result_r, writable=False)
        self.job: int | None = None
        self.deadline = 0.0

    def usable(self) -> bool:
        """Alive and has not said goodbye."""
        try:
            return self.proc.poll() is None and not self.rx.poll(0)
        except (EOFError, OSError):
            return False

    def stop(self, kill: bool = False) -> None:
        """Ask the worker to exit (or kill it), and reap it."""
        if not kill:
            try:
                self.tx.send(None)
                self.proc.wait(1)
            except (OSError, subprocess.TimeoutExpired):
                pass
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self.tx.close()
        self.rx.close()


def _exit_code(proc: subprocess.Popen) -> int | None:
    try:
        return proc.wait(2)
    except subprocess.TimeoutExpired:
        return None


class ParsePool:
    """Worker processes that run parser calls, each under ``timeout_s``; :meth:`run` may be
    called many times, :meth:`close` stops the workers. ``workers=0`` runs calls in-process."""

    def __init__(self, workers: int = 2, timeout_s: float = 30.0) -> None:
        self.size = max(0, workers)
        self.timeout_s = timeout_s
        self._workers: list[_Worker] = []
        self.notes: list[str] = []  # why the pool fell back to in-process parsing, if it did

    def __enter__(self) -> ParsePool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop every worker."""
        for w in self._workers:
            w.stop()
        self._workers = []

    def _note_failure(self, why: str) -> None:
        note = (f"parser processes could not be started ({why}); files are parsed in this "
                "process, without the time limit. Fix: check that this system allows "
                "subprocesses, or set RAG_PARSE_WORKERS=0 to silence this.")
        if note not in self.notes:
            self.notes.append(note)
            log.warning(note)

    def _spawn(self, n: int = 1) -> list[_Worker]:
        """Start ``n`` workers and wait until they have imported the parsers; the ones that
        fail to start are left out (with a note)."""
        started: list[_Worker] = []
        for _ in range(n):
            try:
                started.append(_Worker())
            except (OSError, ValueError, subprocess.SubprocessError) as err:
                self._note_failure(str(err))
        ready: list[_Worker] = []
        deadline = time.monotonic() + START_TIMEOUT_S
        waiting = list(started)
        while waiting and (left := deadline - time.monotonic()) > 0:
            for conn in wait([w.rx for w in waiting], timeout=left):
                w = next(x for x in waiting if x.rx is conn)
                waiting.remove(w)
                try:
                    ok = w.rx.recv() == _READY
                except (EOFError, OSError):
                    ok = False
                if ok:
                    ready.append(w)
                else:
                    w.stop(kill=True)
                    self._note_failure(f"a worker exited with code {_exit_code(w.proc)}")
        for w in waiting:
            w.stop(kill=True)
            self._note_failure(f"a worker did not start within {START_TIMEOUT_S:g} s")
        return ready

    def _staff(self, want: int) -> None:
        """Drop workers that exited or retired; start new ones up to ``want``."""
        keep: list[_Worker] = []
        for w in self._workers:
            if w.usable() and len(keep) < self.size:
                keep.append(w)
            else:
                w.stop(kill=True)
        self._workers = keep
        if len(keep) < want:
            self._workers += self._spawn(want - len(keep))

    def run(self, func: Callable[..., Any], jobs: Sequence[Job]) -> list[Outcome]:
        """``func(*args)`` for every job, results in the order of the jobs; never raises for a
        job (a KeyboardInterrupt kills the workers and propagates). A job is the args tuple,
        or a function that makes it when the job's turn comes (reading a file then keeps one
        file per worker in memory; a DocumentError it raises is that job's outcome)."""
        results: list[Outcome | None] = [None] * len(jobs)
        todo = deque(range(len(jobs)))
        self.notes = []
        if self.size and jobs:
            self._staff(min(self.size, len(jobs)))
        try:
            while self._workers and (todo or any(w.job is not None for w in self._workers)):
                for k, w in enumerate(self._workers):
                    if w.job is not None or not todo:
                        continue
                    i = todo.popleft()
                    args, results[i] = _args(jobs[i])
                    if args is None:
                        continue
                    try:
                        w.tx.send((func, args))
                    except OSError:  # it retired or died meanwhile: a new worker takes the job
                        todo.appendleft(i)
                        if not self._replace(k):
                            self._give_up(todo)
                            break
                        continue
                    w.job, w.deadline = i, time.monotonic() + self.timeout_s
                busy = [w for w in self._workers if w.job is not None]
                if not busy:
                    continue
                left = min(w.deadline for w in busy) - time.monotonic()
                ready = set(wait([w.rx for w in busy], timeout=max(0.0, left)))
                for k, w in enumerate(self._workers):
                    if w.job is None or (w.rx not in ready and time.monotonic() < w.deadline):
                        continue
                    job, w.job = w.job, None
                    if w.rx in ready:
                        died = False
                        try:
                            got = w.rx.recv()
                        except (EOFError, OSError):
                            died, got = True, Outcome("failed", reason="the parser process "
                                                      f"died (exit code {_exit_code(w.proc)})")
                        if isinstance(got, Outcome):
                            results[job] = got
                            if not died:
                                continue
                        else:
                            todo.appendleft(job)  # it retired before taking the job: again
                    else:
                        results[job] = Outcome("timeout", reason=f"took longer than "
                                               f"{self.timeout_s:g} s to parse")
                    if not self._replace(k):
                        self._give_up(todo)
                        break
        except BaseException:
            for w in self._workers:
                w.stop(kill=True)
            self._workers = []
            raise
        for i in todo:  # no workers (workers=0, or they could not be started)
            args, results[i] = _args(jobs[i])
            if args is not None:
                results[i] = call(func, args)
        return [r if r is not None else Outcome("failed", reason="not parsed") for r in results]

    def _give_up(self, todo: deque[int]) -> None:
        """No worker can be started: stop them all; their jobs go back to ``todo``."""
        todo.extend(w.job for w in self._workers if w.job is not None)
        for w in self._workers:
            w.job = None
        self.close()

    def _replace(self, k: int) -> bool:
        """Kill worker ``k`` and start another in its place; False when none can start (the
        pool then stops, and :meth:`run` finishes in-process)."""
        self._workers[k].stop(kill=True)
        fresh = self._spawn()
        if not fresh:
            return False
        self._workers[k] = fresh[0]
        return True


def _args(job: Job) -> tuple[tuple | None, Outcome | None]:
    """(the job's args, None), or (None, its outcome) when making them raised DocumentError."""
    if not callable(job):
        return job, None
    try:
        return job(), None
    except DocumentError as err:
        return None, Outcome("refused", reason=str(err))


_SHARED: ParsePool | None = None
_SHARED_LOCK = threading.Lock()


def run_parsers(func: Callable[..., Any], jobs: Sequence[Job], workers: int,
                timeout_s: float) -> tuple[list[Outcome], list[str]]:
    """Run ``func(*job)`` for each job on the process's shared pool (``workers`` processes,
    ``timeout_s`` per job); returns (outcomes in job order, notes about the pool itself)."""
    global _SHARED
    if not jobs:
        return [], []
    with _SHARED_LOCK:
        if _SHARED is None:
            _SHARED = ParsePool(workers, timeout_s)
            atexit.register(_SHARED.close)
        _SHARED.size, _SHARED.timeout_s = max(0, workers), timeout_s
        return _SHARED.run(func, jobs), list(_SHARED.notes)

"""House figures: how long `import rag` takes and how long the package's modules are.

    python -m eval house

Issue 16's targets: ``python -c "import rag"`` in at most 0.3 s (the package imports its names
lazily), and no module of ``rag/`` over 400 lines. The import is timed in fresh interpreters
(the median of 7, each minus the median of 7 bare ``python -c "pass"`` starts measured in the
same run, so the figure is the package's own cost). Writes eval/results/house.json and the
"House" section of eval/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from .report import publish

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "results" / "house.json"
SECTION = "## House"


def _start(code: str, runs: int) -> list[float]:
    """Wall seconds of ``python -c code`` in fresh interpreters, ``runs`` times."""
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
        out.append(time.perf_counter() - t)
    return out


def measure(runs: int = 7) -> dict:
    """Import time of the package (and its bare-interpreter baseline) and module sizes."""
    bare = _start("pass", runs)
    package = _start("import rag", runs)
    lines = {str(p.relative_to(ROOT)): len(p.read_text(encoding="utf-8").splitlines())
             for p in sorted((ROOT / "rag").rglob("*.py"))}
    return {"when": f"{dt.datetime.now():%Y-%m-%d %H:%M}", "cpus": os.cpu_count(),
            "load_avg": os.getloadavg()[0],
            "python_start_s": statistics.median(bare), "import_rag_s": statistics.median(package),
            "import_rag_own_s": statistics.median(package) - statistics.median(bare),
            "modules": len(lines), "over_400": {k: v for k, v in lines.items() if v > 400},
            "largest": max(lines.items(), key=lambda kv: kv[1])}


def markdown(r: dict) -> str:
    """The RESULTS.md section."""
    over = ", ".join(f"`{k}` {v}" for k, v in r["over_400"].items()) or "none"
    return "\n".join([
        SECTION, "",
        f"Command: `python -m eval house` ({r['when']}, {r['cpus']} CPUs, 1-minute load "
        f"average {r['load_avg']:.1f}).", "",
        "| figure | measured | target |", "|---|---|---|",
        f"| `python -c \"import rag\"` (median of 7 fresh interpreters) | "
        f"{r['import_rag_s']:.3f} s (bare interpreter {r['python_start_s']:.3f} s, so "
        f"{r['import_rag_own_s']:.3f} s is the package's) | <= 0.3 s |",
        f"| modules of rag/ over 400 lines | {over} (of {r['modules']}) | none |", ""])


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(prog="python -m eval house", description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=7)
    args = p.parse_args(argv)
    r = measure(args.runs)
    print(json.dumps(r, indent=1))
    publish(r, OUT, SECTION, markdown(r))
    return r


if __name__ == "__main__":
    main()

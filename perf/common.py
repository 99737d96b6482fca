"""What every benchmark shares: where figures go, the machine they were measured on, a table printer
and a sampler of the memory of a whole process tree."""

from __future__ import annotations

import os
import statistics
import threading
import time
from pathlib import Path

from vrft_lib.files import write_json
from vrft_lib.provenance import provenance

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = Path(os.environ.get("VRFT_BENCH_DIR", ROOT / "outputs" / "bench"))


def machine() -> dict:
    """The machine and software the figures were measured on."""
    p = provenance()
    return {
        "hardware": p["hardware"],
        "python": p["python"],
        "packages": p["packages"],
        "git_commit": p["git_commit"],
        "created": p["created"],
    }


def write_result(name: str, result: dict, out_dir: Path | None = None) -> Path:
    """Write ``result`` (plus the machine) to ``<out_dir>/<name>.json`` and return the path."""
    path = Path(out_dir or BENCH_DIR) / f"{name}.json"
    write_json({"benchmark": name, **result, "machine": machine()}, path)
    return path


def print_table(rows: list[list], header: list[str]) -> None:
    """A plain fixed-width table on stdout."""
    cells = [[str(c) for c in r] for r in [header, *rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    for k, r in enumerate(cells):
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))
        if k == 0:
            print("  ".join("-" * w for w in widths))


def median(xs):
    return statistics.median(xs) if xs else None


def verdict(value, target, higher_is_better: bool) -> str:
    if value is None:
        return "not measured"
    ok = value >= target if higher_is_better else value <= target
    return "met" if ok else "NOT met"


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _command(pid: int) -> str:
    """A short name for a process: its command line's program and first arguments, paths cut to their
    last part (``python -m ipykernel_launcher``, ``vrft study``)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            args = [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return "?"
    return " ".join(Path(a).name if "/" in a else a for a in args[:3]) or "?"


class TreeMemory:
    """Samples the resident memory of a process and all its descendants (Linux ``/proc``).

    ``peak_total_mb`` is the largest sum over the tree at one instant (what the machine must hold);
    ``peak_process_mb`` the largest single process; ``peak_breakdown`` the processes at the peak's
    instant (``pid``, ``command``, ``mb``, largest first) and ``peak_at_seconds`` when it came.
    """

    def __init__(self, pid: int, interval: float = 0.2):
        self.pid, self.interval = pid, interval
        self.peak_total_mb = 0.0
        self.peak_process_mb = 0.0
        self.peak_breakdown: list[dict] = []
        self.peak_at_seconds = 0.0
        self._t0 = time.perf_counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _tree(self) -> list[int]:
        out, todo = [], [self.pid]
        while todo:
            p = todo.pop()
            out.append(p)
            todo.extend(_children(p))
        return out

    def _run(self):
        while not self._stop.is_set():
            tree = self._tree()
            sizes = [_rss_mb(p) for p in tree]
            if sizes:
                if sum(sizes) > self.peak_total_mb:
                    self.peak_total_mb = sum(sizes)
                    self.peak_at_seconds = round(time.perf_counter() - self._t0, 1)
                    self.peak_breakdown = sorted(
                        ({"pid": p, "command": _command(p), "mb": round(mb, 1)} for p, mb in zip(tree, sizes) if mb),
                        key=lambda x: -x["mb"],
                    )
                self.peak_process_mb = max(self.peak_process_mb, max(sizes))
            time.sleep(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

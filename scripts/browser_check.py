"""The report in a real browser (``make test-browser``): render a study whose names, labels, questions,
responses and error messages carry markup and script, open its report.html in headless Chromium and
check that

* no injected script ran (every payload sets ``window.__pwned`` when it runs) and no element of the
  page carries an event handler or a ``javascript:`` link;
* no console error, uncaught exception or failed load appeared;
* every plotly figure of the report notebook drew (``.js-plotly-plot`` with its ``.main-svg``), and a
  label with markup shows as written on a figure's axis and in the text.

    python scripts/browser_check.py                 # build the hostile study in a temporary folder
    python scripts/browser_check.py --keep DIR      # ... in DIR, kept for a look
    python scripts/browser_check.py --page outputs/smoke/report.html --figures 5   # check a page as it is

Chromium is driven through its DevTools protocol over a pipe (``--remote-debugging-pipe``), with the
standard library only. Where no Chromium is installed and the user is root on a Debian-like system, it
installs Debian's ``chromium`` (``apt-get update``, ``apt-get install -y chromium``). Exits 1 when a
check fails, 2 when no browser can be found.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat
import yaml

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-pipe",
)
RAN = "window.__pwned=(window.__pwned||0)+1"  # what every payload does when it runs
PAYLOADS = (
    f"<script>{RAN}</script>",
    f"<img src=x onerror={RAN}>",
    f"<svg onload={RAN}>",
    f'<a href="javascript:{RAN}">link</a>',
    f"<iframe srcdoc='<script>parent.{RAN}</script>'></iframe>",
    "<b>bold</b> <i>it</i> &amp; <br> *stars* `tick` $x$",
)
FOLDER = "hostile <img src=x onerror=window.__pwned=1>"  # the study folder's own name: the page's title
FIGURE_MIME = "application/vnd.plotly.v1+json"
# What the page reports back once loaded; `drawn` counts the figures plotly drew.
PROBE = """JSON.stringify({
  pwned: window.__pwned || 0,
  handlers: document.querySelectorAll('[onerror],[onload],[onclick],[onmouseover]').length,
  js_links: [...document.querySelectorAll('a[href]')].filter(a => /^\\s*javascript:/i.test(a.href)).length,
  iframes: document.querySelectorAll('iframe').length,
  figures: document.querySelectorAll('.plotly-graph-div').length,
  drawn: [...document.querySelectorAll('.plotly-graph-div')]
    .filter(g => g.classList.contains('js-plotly-plot') && g.querySelector('.main-svg') && g._fullLayout).length,
  tick_markup: [...document.querySelectorAll('.xtick text')].some(t => t.textContent.includes('<b>bold</b>')),
  text_markup: document.body.innerText.includes('<img src=x onerror='),
  title: document.title,
})"""


def payload(i: int) -> str:
    return PAYLOADS[i % len(PAYLOADS)]


# ----------------------------------------------------------------------------------------------
# the hostile study
# ----------------------------------------------------------------------------------------------


def _edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def hostile_study(root: Path) -> Path:
    """The report's made-up example study with markup and script in every text a study can hold: the
    study's name, description, model and reference, the benchmark labels, the questions, choices,
    solutions and responses, provenance, a failed run's error and an unreadable run's reason."""
    from vrft_lib.report.example import write_example_study

    write_example_study(root)
    study = yaml.safe_load((root / "study.yaml").read_text())
    study.update(name=f"study {payload(0)}", description=f"described {payload(1)}")
    study["model"] = {"name_or_path": f"model {payload(2)}"}
    study["reference"]["source"] = f"source {payload(3)}"
    paper = study["reference"]["table1"]
    for i, spec in enumerate(study["benchmarks"].values()):
        label = spec["label"]
        spec["label"] = f"{label} {PAYLOADS[-1]} {payload(i)}"
        paper[spec["label"]] = paper.pop(label)  # the paper's row follows its label
    (root / "study.yaml").write_text(yaml.safe_dump(study, sort_keys=False))
    for i, run in enumerate(sorted(root.glob("runs/*/*/seed0"))):
        provenance = {
            "python": f"3.11 {payload(i)}",
            "git_commit": payload(i + 1),
            "packages": {f"torch {payload(i + 2)}": payload(i + 3)},
            "hardware": {"cpu": payload(i + 4)},
        }
        (run / "eval" / "provenance.json").write_text(json.dumps(provenance))
        lines = (run / "eval" / "predictions.jsonl").read_text().splitlines()
        rows = [json.loads(line) for line in lines]
        for j, row in enumerate(rows):
            mark = f" {payload(i + j)}"
            row["question"] = f"How many shapes?{mark}"
            row["choices"] = [f"{c}{mark}" for c in row["choices"]]
            row["solution"] = f"{row['solution']}{mark}"
            row["response"] = f"{payload(j + 1)}{row['response']}"
        (run / "eval" / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    failed = root / "runs" / "synthetic_banner" / "rft" / "seed0"
    (failed / "DONE").unlink()
    failure = {"run_id": "synthetic_banner/rft/seed0", "error": f"RuntimeError: {payload(0)} {payload(1)}"}
    (root / "last_invocation.json").write_text(json.dumps({"ran": [], "total_seconds": 1.0, "failures": [failure]}))
    damaged = root / "runs" / "synthetic_banner" / "sft" / "seed0" / "eval" / "metrics.json"
    _edit_json(damaged, lambda m: m["modes"].__setitem__(payload(1), {"n": 3}))
    return root


def expected_figures(notebook: Path) -> int:
    """The plotly figures the executed report notebook shows."""
    nb = nbformat.read(str(notebook), as_version=4)
    return sum(FIGURE_MIME in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs)


# ----------------------------------------------------------------------------------------------
# the browser
# ----------------------------------------------------------------------------------------------


def find_browser() -> str:
    """A Chromium on the PATH; installed from the system's packages (root, apt-get) where missing."""
    for name in BROWSERS:
        if path := shutil.which(name):
            return path
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        sys.exit("browser_check: no Chromium found; install one (Debian/Ubuntu: apt-get install chromium)")
    print("browser_check: installing chromium (apt-get)", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "chromium"], check=True, env=env)
    for name in BROWSERS:
        if path := shutil.which(name):
            return path
    sys.exit("browser_check: apt-get installed chromium, but no Chromium is on the PATH")


class DevTools:
    """Chromium, headless, driven through the DevTools protocol on fds 3 (commands) and 4 (replies)."""

    def __init__(self, browser: str, profile: Path):
        cmd_r, self.cmd_w = os.pipe()
        self.resp_r, resp_w = os.pipe()

        def to_3_and_4():  # in the child: the pipe ends become fds 3 and 4 (via fds above both)
            a, b = fcntl.fcntl(cmd_r, fcntl.F_DUPFD, 10), fcntl.fcntl(resp_w, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.log = open(profile / "chromium.log", "w")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(
            [browser, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            preexec_fn=to_3_and_4,
            pass_fds=(3, 4),
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        os.close(cmd_r)
        os.close(resp_w)
        self.replies: dict[int, dict] = {}
        self.events: queue.Queue = queue.Queue()
        self.seen: list[dict] = []
        self.next_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        buf = b""
        while chunk := os.read(self.resp_r, 1 << 16):
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                msg = json.loads(raw)
                if "id" in msg:
                    self.replies[msg["id"]] = msg
                else:
                    self.events.put(msg)
        self.events.put({"method": "closed"})

    def send(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 30):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.cmd_w, json.dumps(msg).encode() + b"\0")
        end = time.monotonic() + timeout
        while self.next_id not in self.replies:
            if time.monotonic() > end or self.proc.poll() is not None:
                raise RuntimeError(f"Chromium did not answer {method} (see {self.log.name})")
            self.drain(0.05)
        reply = self.replies.pop(self.next_id)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def drain(self, wait: float = 0.0) -> list[dict]:
        """Move the events that arrived (waiting up to ``wait`` seconds for the first) into ``seen``."""
        got = []
        try:
            got.append(self.events.get(timeout=wait) if wait else self.events.get_nowait())
            while True:
                got.append(self.events.get_nowait())
        except queue.Empty:
            pass
        self.seen += got
        return got

    def wait_for(self, method: str, timeout: float) -> None:
        end = time.monotonic() + timeout
        while not any(e.get("method") == method for e in self.seen):
            if time.monotonic() > end:
                raise RuntimeError(f"no {method} within {timeout:.0f} s")
            self.drain(0.1)

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=5)
        except (RuntimeError, OSError):
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.cmd_w)
        self.log.close()


def problems_of(events: list[dict]) -> list[str]:
    """The console errors, uncaught exceptions and failed loads among DevTools events."""
    out = []
    for e in events:
        p = e.get("params", {})
        if e.get("method") == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            out.append(f"uncaught exception: {(d.get('exception') or {}).get('description') or d.get('text')}")
        elif e.get("method") == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            out.append("console." + p["type"] + ": " + " ".join(str(a.get("value", a)) for a in p.get("args", [])))
        elif e.get("method") == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            entry = p["entry"]
            out.append(f"console error ({entry.get('source')}): {entry.get('text')} {entry.get('url', '')}".rstrip())
    return out


def open_page(page: Path, browser: str, settle: float = 1.0, timeout: float = 60) -> tuple[dict, list[str]]:
    """Load ``page`` in headless Chromium; return what :data:`PROBE` finds and the problems the
    browser reported, once the count of drawn figures stops changing."""
    with tempfile.TemporaryDirectory(prefix="chr-") as profile:
        tools = DevTools(browser, Path(profile))
        try:
            target = tools.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = tools.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Runtime", "Log", "Page"):
                tools.send(f"{domain}.enable", session=session)
            tools.send("Page.navigate", {"url": page.resolve().as_uri()}, session=session)
            tools.wait_for("Page.loadEventFired", timeout)
            end, last, since = time.monotonic() + timeout, None, time.monotonic()
            while time.monotonic() < end:  # until the count of drawn figures holds (all: `settle` s; else 10 s)
                probe = tools.send("Runtime.evaluate", {"expression": PROBE, "returnByValue": True}, session=session)
                found = json.loads(probe["result"]["value"])
                if found["drawn"] != last:
                    last, since = found["drawn"], time.monotonic()
                held = time.monotonic() - since
                if held >= (settle if found["drawn"] == found["figures"] else 10 * settle):
                    break
                tools.drain(settle / 4)
            tools.drain(0.2)
            return found, problems_of(tools.seen)
        finally:
            tools.close()


# ----------------------------------------------------------------------------------------------
# the check
# ----------------------------------------------------------------------------------------------


def verdicts(found: dict, problems: list[str], figures: int, hostile: bool) -> list[str]:
    """What failed, in words (nothing: the page passed)."""
    bad = [f"browser: {p}" for p in problems]
    if found.get("pwned"):
        bad.append(f"an injected script ran {found['pwned']} time(s)")
    for what in ("handlers", "js_links", "iframes"):
        if found.get(what):
            bad.append(f"the page holds {found[what]} {what.replace('_', ' ')} from the study's text")
    if found.get("figures") != figures or found.get("drawn") != figures:
        bad.append(f"{found.get('drawn')} of {found.get('figures')} figures drew; the notebook shows {figures}")
    if hostile and not (found.get("tick_markup") and found.get("text_markup")):
        bad.append("a label with markup does not show as written (on a figure's axis, or in the text)")
    if hostile and "<img" not in found.get("title", ""):
        bad.append(f"the page's title is not the folder's name as written: {found.get('title')!r}")
    return bad


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--keep", type=Path, help="build the hostile study in this folder and keep it")
    ap.add_argument("--page", type=Path, help="check this report.html as it is, instead of a hostile study")
    ap.add_argument("--figures", type=int, help="with --page: the figures it must draw (default: its report.ipynb's)")
    args = ap.parse_args(argv)
    t0 = time.monotonic()
    browser = find_browser()
    with tempfile.TemporaryDirectory(prefix="vrft-browser-") as tmp:
        if args.page:
            page = args.page
            figures = args.figures if args.figures is not None else expected_figures(page.parent / "report.ipynb")
        else:
            from vrft_lib.report.render import render_report

            root = hostile_study((args.keep or Path(tmp)) / FOLDER)
            page = render_report(root)
            figures = expected_figures(root / "report.ipynb")
        t1 = time.monotonic()
        found, problems = open_page(page, browser)
    bad = verdicts(found, problems, figures, hostile=not args.page)
    t2 = time.monotonic()
    print(f"browser_check: {page}")
    print(
        f"  {Path(browser).name}; figures drawn {found.get('drawn')} of {figures}; injected scripts run: "
        f"{found.get('pwned')}; browser problems: {len(problems)}"
    )
    print(f"  {t1 - t0:.1f} s to build and render, {t2 - t1:.1f} s in the browser, {t2 - t0:.1f} s in all")
    for line in bad:
        print(f"  FAIL: {line}")
    print("browser_check: " + ("FAILED" if bad else "passed"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

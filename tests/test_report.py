"""``neurorec report``: one self-contained HTML file of a results folder (neurorec.experiment.report).

The unit tests write stores by hand (ok, failed and skipped runs, a model whose name is HTML) and
parse the report with :mod:`html.parser`. ``test_report_renders_in_headless_chromium`` runs a
small real ``neurorec compare`` (a 20-unit ESN and stand-in models, two seeds, one run failing,
energy on cmos45), writes its report and opens it in headless chromium: a probe script checks
the rendered DOM (tables with rows, every image decoded, no error of any kind, nothing fetched),
sorts the runs table by clicking its "seed" header and writes what it found into the page, which
``--dump-dom`` returns; then a screenshot. Without chromium that test is skipped, unless
``NEUROREC_REQUIRE_BROWSER=1`` (CI, ``.ci/run``), which makes a missing browser a failure.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import _standins as S
import pytest

from neurorec.cli import main
from neurorec.experiment import ReportError, SQLiteStore, write_report

PNG = b"\x89PNG\r\n\x1a\n"
EVIL = '<script>alert("x")</script>'
TRACEBACK = ('Traceback (most recent call last):\n  File "model.py", line 3, in fit\n'
             "RuntimeError: planned failure <b>bold</b> & more")


class _Page(HTMLParser):
    """What the tests look at in a report: tags, tables and their body rows, URL attributes,
    scripts, and the text inside and outside ``<details>``."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.tables: dict[str, int] = {}
        self.urls: list[tuple[str, str, str]] = []
        self.scripts: list[str] = []
        self.inside_details: list[str] = []
        self.outside_details: list[str] = []
        self._stack: list[str] = []
        self._details = 0
        self._table: list[list] = []   # open tables, innermost last: [id, inside its tbody]
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        for name, value in attrs:
            if name in ("src", "href", "action", "poster", "srcset", "data", "background") and value is not None:
                self.urls.append((tag, name, value))
        if tag in ("meta", "img", "br", "link", "input"):
            return
        self._stack.append(tag)
        if tag == "details":
            self._details += 1
        elif tag == "table":
            tid = a.get("id") or f"table{len(self.tables)}"
            self._table.append([tid, False])
            self.tables.setdefault(tid, 0)
        elif tag == "tbody" and self._table:
            self._table[-1][1] = True
        elif tag == "tr" and self._table and self._table[-1][1]:
            self.tables[self._table[-1][0]] += 1
        elif tag == "script":
            self.scripts.append("")

    def handle_endtag(self, tag):
        if tag in self._stack:
            while self._stack:
                top = self._stack.pop()
                if top == "details":
                    self._details -= 1
                elif top == "table" and self._table:
                    self._table.pop()
                elif top == "tbody" and self._table:
                    self._table[-1][1] = False
                if top == tag:
                    break

    def handle_data(self, data):
        if self._stack and self._stack[-1] == "script":
            self.scripts[-1] += data
        (self.inside_details if self._details else self.outside_details).append(data)

    def attrs_of(self, tag: str) -> list[dict]:
        return [a for t, a in self.tags if t == tag]


def _run(key, model, seed, status="ok", value=0.5, error="", traceback="", host="hostA", rows=True):
    run = {
        "run_key": key, "model": model, "model_class": "pkg.mod:Model", "task": "toy", "kind": "forecast",
        "seed": seed, "status": status, "error": error, "traceback": traceback,
        "fit_seconds": 0.01 * (seed + 1), "params_total": 100, "params_trained": 10, "peak_memory_mb": 1.5,
        "started_at": "2026-01-01T00:00:00", "finished_at": "2026-01-01T00:00:01", "duration_seconds": 1.0,
        "host": host, "neurorec_version": "0.1.0",
        "model_spec": {"name": model, "class": "pkg.mod:Model", "params": {"units": 10, "leak": 0.3},
                       "overrides": {}},
        "task_spec": {"name": "toy", "class": "pkg.tasks:Toy", "params": {"n": 4}, "data": f"d{seed}"},
        "rows": [],
    }
    if rows:
        run["rows"] = [{"split": s, "metric": "mae", "value": value if status == "ok" else float("nan"),
                        "higher_is_better": False, "predict_seconds": 0.001} for s in ("val", "test")]
    return run


def _store(folder: Path, runs) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with SQLiteStore(folder / "results.sqlite") as store:
        for run in runs:
            store.put(run)
    return folder


def _mixed(tmp_path) -> Path:
    return _store(tmp_path / "res", [
        _run("k1", "ESN", 2, value=0.4), _run("k2", "ESN", 10, value=0.6, host="hostB"),
        _run("k3", EVIL, 2, status="error", error="RuntimeError: planned failure <b>bold</b> & more",
             traceback=TRACEBACK),
        _run("k4", EVIL, 10, value=0.9),
        _run("k5", "skipper", 2, status="skipped", error="skipper does not support 'forecast' tasks"),
    ])


def test_report_of_ok_failed_and_skipped_runs_is_one_safe_file(tmp_path):
    folder = _mixed(tmp_path)
    path = write_report(folder)
    assert path == folder / "report.html"
    text = path.read_text(encoding="utf-8")
    page = _Page(text)

    # real tables, with rows: the config, the summaries, the runs, the versions
    for tid in ("t-models", "t-tasks", "t-scores", "t-summary", "t-runs", "t-versions"):
        assert page.tables.get(tid, 0) > 0, tid
    assert page.tables["t-runs"] == 5 and page.tables["t-models"] == 3
    ids = [a["id"] for _, a in page.tags if "id" in a]
    assert len(ids) == len(set(ids))  # the anchors and the probe's getElementById need unique ids
    sortable = [a for a in page.attrs_of("table") if "sortable" in (a.get("class") or "")]
    assert {a["id"] for a in sortable} >= {"t-scores", "t-summary", "t-runs"}

    # every image is an inline PNG; nothing names another file or address
    imgs = page.attrs_of("img")
    assert imgs
    for img in imgs:
        src = img["src"]
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == PNG
    for tag, name, value in page.urls:
        assert value.startswith(("data:", "#")), (tag, name, value[:80])
    assert "http://" not in text and "https://" not in text
    assert not page.attrs_of("link") and all("src" not in a for a in page.attrs_of("script"))
    csp = [a["content"] for a in page.attrs_of("meta") if a.get("http-equiv") == "Content-Security-Policy"]
    assert csp and "default-src 'none'" in csp[0]

    # the failed run's traceback is there, folded in <details>, never outside one
    inside, outside = "".join(page.inside_details), "".join(page.outside_details)
    assert TRACEBACK in inside
    assert "Traceback (most recent call last)" not in outside
    assert "planned failure <b>bold</b> & more" in outside  # the error line itself is shown, as text
    assert [a for a in page.attrs_of("div") if a.get("id", "").endswith("-error")]

    # a model named like HTML is text: the report's own script is the only script
    assert len(page.scripts) == 1 and "sortBy" in page.scripts[0]
    assert EVIL not in text and "<b>bold</b>" not in text
    assert html.escape(EVIL, quote=True) in text
    assert EVIL in outside  # shown, as text, in the tables

    # the configuration, the statuses, the hosts, the versions
    assert "units = 10" in outside and "leak = 0.3" in outside and "n = 4" in outside
    assert "5 runs" in outside and "3 ok, 1 errors, 1 skipped" in outside
    assert "skipper does not support 'forecast' tasks" in outside
    assert "hostA" in outside and "hostB" in outside
    assert "numpy" in outside and "matplotlib" in outside and "neurorec" in outside
    # ESN mean ± std over seeds 2 and 10 (std 0.1414), the best model: formatted as the console's
    assert "0.5 ± 0.14 *" in outside and "0.5 ± 0.1414" not in outside


def test_empty_store_gives_a_page_that_says_so(tmp_path):
    folder = _store(tmp_path / "empty", [])
    page = _Page(write_report(folder, tmp_path / "out" / "empty.html").read_text(encoding="utf-8"))
    assert [a for a in page.attrs_of("p") if a.get("id") == "no-runs"]
    assert "holds no runs yet" in "".join(page.outside_details)
    assert not page.attrs_of("img") and "t-runs" not in page.tables
    (tmp_path / "zero").mkdir()
    (tmp_path / "zero" / "results.sqlite").write_bytes(b"")  # SQLite's empty database
    assert "holds no runs yet" in write_report(tmp_path / "zero").read_text(encoding="utf-8")


def test_the_store_is_only_read(tmp_path):
    folder = _mixed(tmp_path)
    db = folder / "results.sqlite"
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    write_report(folder)
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    # SQLite's read-only reader of a WAL store may leave its (empty) -wal and -shm beside it; no data
    wal = folder / "results.sqlite-wal"
    assert not wal.exists() or wal.stat().st_size == 0
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith("results.sqlite")) == ["report.html"]


def test_cli_report(tmp_path, capsys):
    folder = _mixed(tmp_path)
    assert main(["report", str(folder)]) == 0
    assert capsys.readouterr().out.strip() == f"report: {folder / 'report.html'}"
    out = tmp_path / "elsewhere" / "r.html"
    assert main(["report", str(folder), "-o", str(out)]) == 0 and out.read_text().startswith("<!DOCTYPE html>")

    def error(argv, status):
        assert main(argv) == status
        err = capsys.readouterr().err
        assert err.startswith("neurorec: error: ") and err.count("\n") == 1, err
        return err

    assert "does not exist" in error(["report", str(tmp_path / "missing")], 2)
    (tmp_path / "bare").mkdir()
    assert "holds no result store" in error(["report", str(tmp_path / "bare")], 2)
    (tmp_path / "afile").write_text("x")
    assert "cannot write the report" in error(["report", str(folder), "-o", str(tmp_path / "afile" / "r.html")], 4)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "results.sqlite").write_text("not a database at all, just text")
    assert "damaged" in error(["report", str(tmp_path / "bad")], 3)
    with pytest.raises(ReportError) as exc:
        write_report(tmp_path / "bare")
    assert exc.value.kind == "no-store"


# -- a real store, in a real browser -------------------------------------------------------------
CONFIG = """
[experiment]
name = "report"
seeds = [2, 10]
energy_profiles = ["cmos45"]

[[models]]
name = "ESN-20"
class = "ESN"
params = { units = 20 }

[[models]]
name = "const"
class = "_standins:ConstModel"
params = { offset = 1.0, fail_on_seed = 10 }

[[models]]
name = "forecast_only"
class = "_standins:ForecastOnly"

[[tasks]]
name = "toy_forecast"
class = "_standins:ToyForecast"

[[tasks]]
name = "toy_classify"
class = "_standins:ToyClassify"
"""

# Runs before the report's own script (inserted right after <meta charset>): records every error,
# console error or warning, CSP violation and fetch; on load checks the images and tables, sorts
# the runs table by its "seed" header twice, and writes all of it into <body data-probe-*>.
PROBE = """<script>
(function () {
  var errors = [];
  window.addEventListener("error", function (e) {
    errors.push("error: " + (e.message || (e.target && (e.target.currentSrc || e.target.tagName))));
  }, true);
  window.addEventListener("unhandledrejection", function (e) { errors.push("rejection: " + e.reason); });
  document.addEventListener("securitypolicyviolation", function (e) {
    errors.push("csp: " + e.violatedDirective + " " + e.blockedURI);
  });
  ["error", "warn"].forEach(function (level) {
    console[level] = function () {
      errors.push("console." + level + ": " + Array.prototype.join.call(arguments, " "));
    };
  });
  function column(table, name) {
    var i = Array.prototype.map.call(table.tHead.rows[0].cells, function (c) { return c.textContent; }).indexOf(name);
    return Array.prototype.map.call(table.tBodies[0].rows, function (r) { return r.cells[i].textContent; });
  }
  window.addEventListener("load", function () {
    var b = document.body, out = {};
    try {
      var imgs = Array.prototype.slice.call(document.images);
      out.images = imgs.map(function (i) {
        return {alt: i.alt, complete: i.complete, w: i.naturalWidth, h: i.naturalHeight,
                shown: i.getBoundingClientRect().width};
      });
      out.tables = {};
      Array.prototype.forEach.call(document.querySelectorAll("table[id]"), function (t) {
        out.tables[t.id] = t.tBodies.length ? t.tBodies[0].rows.length : 0;
      });
      out.resources = performance.getEntriesByType("resource").map(function (e) { return e.name; });
      out.details = document.querySelectorAll("details pre").length;
      var runs = document.getElementById("t-runs");
      if (runs) {
        var th = Array.prototype.filter.call(runs.tHead.rows[0].cells,
                                             function (c) { return c.textContent === "seed"; })[0];
        out.before = column(runs, "seed");
        th.click();
        out.asc = column(runs, "seed");
        out.ariaAsc = th.getAttribute("aria-sort");
        th.click();
        out.desc = column(runs, "seed");
        out.ariaDesc = th.getAttribute("aria-sort");
      }
    } catch (exc) {
      errors.push("probe: " + exc);
    }
    out.errors = errors;
    b.setAttribute("data-probe", JSON.stringify(out));
  });
})();
</script>"""


def _browser() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    if os.environ.get("NEUROREC_REQUIRE_BROWSER") == "1":
        pytest.fail("NEUROREC_REQUIRE_BROWSER=1 but no chromium, chromium-browser or google-chrome is on PATH "
                    "(apt-get install chromium)")
    pytest.skip("no headless browser: apt-get install chromium")


def _headless(exe: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
           "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--mute-audio", "--hide-scrollbars",
           f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", *args]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert res.returncode == 0, f"{' '.join(cmd)} -> {res.returncode}\n{res.stderr[-3000:]}"
    return res


def _probe(exe: str, tmp_path: Path, text: str, name: str) -> tuple[dict, str]:
    """Open ``text`` with :data:`PROBE` inserted in headless chromium: what the probe found, and
    chromium's log (its ``:CONSOLE`` lines are the page's console messages)."""
    marker = '<meta charset="utf-8">'
    assert text.count(marker) == 1
    page = tmp_path / f"{name}.html"
    page.write_text(text.replace(marker, marker + PROBE, 1), encoding="utf-8")
    res = _headless(exe, tmp_path / f"profile-{name}", "--virtual-time-budget=5000", "--dump-dom", page.as_uri())
    bodies = [a for t, a in _Page(res.stdout).tags if t == "body"]
    assert bodies and "data-probe" in bodies[0], res.stdout[:2000] + res.stderr[-2000:]
    return json.loads(bodies[0]["data-probe"]), res.stderr


def _console(log: str) -> list[str]:
    return [line for line in log.splitlines() if ":CONSOLE" in line]


def test_the_browser_probe_sees_what_is_wrong(tmp_path):
    """The probe itself, on a page with a broken image, a remote one and a script error: each is
    caught (so the clean result below means a clean page, not a blind probe)."""
    exe = _browser()
    from neurorec.experiment.report import _CSP

    bad = ('<!DOCTYPE html><html><head><meta charset="utf-8">'
           f'<meta http-equiv="Content-Security-Policy" content="{_CSP}"></head><body>'
           '<img alt="broken" src="data:image/png;base64,AAAA"><img alt="remote" src="https://example.invalid/x.png">'
           '<script>throw new Error("boom")</script></body></html>')
    found, log = _probe(exe, tmp_path, bad, "bad")
    assert [img["w"] for img in found["images"]] == [0, 0]
    assert any("boom" in e for e in found["errors"]) and any(e.startswith("csp:") for e in found["errors"])
    assert _console(log)  # chromium logs the page's errors as :CONSOLE lines


@pytest.fixture()
def _clear_calls():
    S.FIT_CALLS.clear()
    yield
    S.FIT_CALLS.clear()


def test_report_renders_in_headless_chromium(tmp_path, capsys, _clear_calls):
    exe = _browser()
    cfg = tmp_path / "report.toml"
    cfg.write_text(CONFIG)
    out = tmp_path / "results"
    assert main(["compare", str(cfg), "--out", str(out), "--no-progress", "--jobs", "1"]) == 1  # const fails on 10
    assert main(["report", str(out)]) == 0
    report = out / "report.html"
    text = report.read_text(encoding="utf-8")
    assert 'id="fig-energy"' in text and 'id="fig-summary"' in text

    found, log = _probe(exe, tmp_path, text, "report")
    assert found["errors"] == []
    assert _console(log) == []
    assert found["resources"] == []  # nothing fetched: every image is inline
    assert len(found["images"]) >= 2
    for img in found["images"]:
        assert img["complete"] and img["w"] > 100 and img["h"] > 100 and img["shown"] > 0, img
    for tid in ("t-models", "t-tasks", "t-scores", "t-summary", "t-runs", "t-versions"):
        assert found["tables"].get(tid, 0) > 0, (tid, found["tables"])
    assert found["tables"]["t-runs"] == 10  # 3 models x 2 tasks x 2 seeds, less forecast_only's 2 skipped (not stored)
    assert found["details"] >= 2  # the traceback of each of const's two failed runs, folded
    # sorting by seed is numeric (2 before 10; as text "10" < "2"), then reversed
    assert sorted(found["before"]) == sorted(found["asc"])
    assert found["asc"] == sorted(found["asc"], key=int) and found["asc"][0] == "2" and found["asc"][-1] == "10"
    assert found["desc"] == sorted(found["asc"], key=int, reverse=True)
    assert (found["ariaAsc"], found["ariaDesc"]) == ("ascending", "descending")

    shot = tmp_path / "report.png"
    _headless(exe, tmp_path / "profile-shot", "--window-size=1280,2000", f"--screenshot={shot}", report.as_uri())
    data = shot.read_bytes()
    assert data[:8] == PNG and len(data) > 20_000
    from matplotlib.image import imread

    pixels = imread(shot)
    assert pixels.shape[0] >= 1000 and pixels.std() > 0.05  # a rendered page, not a blank one

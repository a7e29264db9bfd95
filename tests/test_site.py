"""The documentation site: ``mkdocs build --strict`` passes and writes the pages it should.

The build (mkdocs.yml at the repository root, pages in docs/) fails on any warning: a broken link
or #anchor, a page missing from the navigation, a docstring mkdocstrings cannot parse. Skipped
with an install hint where the ``docs`` extra is not installed; ``.[all]`` (the README's Quick
start) installs it, so CI runs it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    for mod in ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python"):
        pytest.importorskip(mod, reason=f'the site needs the docs extra: pip install -e ".[docs]" ({mod} missing)')
    out = tmp_path_factory.mktemp("site")
    env = dict(os.environ, OMP_NUM_THREADS="1", NO_MKDOCS_2_WARNING="1")
    r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"mkdocs build --strict failed:\n{r.stdout[-3000:]}\n{r.stderr[-6000:]}"
    return out


def _text(path: Path) -> str:
    return re.sub(r"<[^>]+>", "", path.read_text(encoding="utf-8"))


def test_pages_exist(site):
    for page in ("index.html", "getting-started/index.html", "models/reservoirs/index.html",
                 "models/spiking/index.html", "models/hopfield/index.html", "models/hebbian/index.html",
                 "models/temporal/index.html", "models/recurrent/index.html", "models/anomaly/index.html",
                 "tasks/index.html", "experiments/compare/index.html", "experiments/config/index.html",
                 "experiments/scripts/index.html", "hardware/index.html", "api/models/index.html",
                 "api/data/index.html", "api/experiment/index.html", "api/hardware/index.html",
                 "search/search_index.json"):
        assert (site / page).is_file(), page


def test_quick_start_commands_on_the_site(site):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Quick start", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    text = _text(site / "getting-started" / "index.html").replace("&amp;", "&").replace("&quot;", '"')
    for command in block.strip().splitlines():
        assert command in text, command


def test_model_page_has_equations_and_example(site):
    html = (site / "models" / "reservoirs" / "index.html").read_text(encoding="utf-8")
    # formulas converted to MathML at build time (docs/hooks.py): rendered by the browser, no script
    assert html.count('<math xmlns="http://www.w3.org/1998/Math/MathML" display="block">') >= 5
    assert "<msub><mi>W</mi><mrow><mi>o</mi><mi>u</mi><mi>t</mi></mrow></msub>" in html     # W_{out}
    assert "ESN(units=50" in _text(site / "models" / "reservoirs" / "index.html")


def test_no_formula_left_as_latex_source(site):
    """Every page's formulas and every docstring's :math: role became MathML."""
    for page in site.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        assert 'class="arithmatex"' not in html and ":math:" not in _text(page), page.relative_to(site)
    api = (site / "api" / "anomaly" / "index.html").read_text(encoding="utf-8")
    assert "<math" in api                     # HopfieldDetector's docstring has :math: roles


def test_api_page_from_docstrings(site):
    text = _text(site / "api" / "models" / "index.html")
    # ESN's docstring, rendered by mkdocstrings, and a member further down
    assert "leaky-integrator echo state network with fixed random weights" in text
    assert "ModernHopfield" in text and "SpikingClassifier" in text
    hardware = _text(site / "api" / "hardware" / "index.html")
    assert "to_nir" in hardware and "load_profile" in hardware     # the lazily imported functions too


def test_experiments_readme_included(site):
    text = _text(site / "experiments" / "scripts" / "index.html")
    first = next(ln for ln in (ROOT / "experiments" / "README.md").read_text(encoding="utf-8").splitlines()
                 if ln.startswith("## "))
    assert first.lstrip("# ").split(" — ")[0].strip("`") in text


def test_nothing_fetched_from_the_network(site):
    """No page loads a script or a stylesheet from another host (the site works offline)."""
    for page in site.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        remote = re.findall(r'<(?:script|link)[^>]+(?:src|href)="(https?://[^"]+)"', html)
        assert not remote, (page.relative_to(site), remote[:3])


def _hooks():
    pytest.importorskip("griffe", reason='the site needs the docs extra: pip install -e ".[docs]"')
    import importlib.util

    spec = importlib.util.spec_from_file_location("neurorec_docs_hooks", ROOT / "docs" / "hooks.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_rst_math_directive_and_definition_list_become_markdown():
    hooks = _hooks()
    text = ("Intro.\n\nTerm\n    Its definition,\n\n    .. math::\n\n        a = b\n        + c\n\n"
            "    where b.\nOther\n    Second.\n\nParameters\n----------\nx : int\n    Not a definition list.\n")
    md = hooks.rst_to_markdown(text)
    assert "Term\n:   Its definition,\n\n    $$\n    a = b + c\n    $$\n\n    where b.\n\nOther\n:   Second." in md
    assert "x : int\n    Not a definition list." in md           # griffe parses the numpy section itself
    assert hooks.rst_to_markdown("A literal block::\n\n    x = 1\n") == "A literal block::\n\n    x = 1\n"
    with pytest.raises(ValueError, match="cannot convert"):
        hooks.mathml(r"\frac{")

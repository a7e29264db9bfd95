"""MkDocs hook: formulas as MathML, and the docstrings' Sphinx roles shown as plain code.

- Formulas. The pages write LaTeX (``$...$``, ``$$...$$``; pymdownx.arithmatex marks them) and the
  docstrings use Sphinx's ``:math:`...``` role. Both are converted at build time to MathML by
  latex2mathml, which browsers render natively (Chromium 109+, Firefox, Safari): no script and no
  font is loaded, so the site works offline. A formula latex2mathml cannot convert fails the build
  with its page and source.
- Directives. The docstrings are reStructuredText-flavoured numpy docstrings: :class:`RstToMarkdown`,
  a griffe extension that mkdocstrings loads (mkdocs.yml), rewrites a ``.. math::`` directive as a
  ``$$`` block and a definition list (a term, then its indented definition) into Markdown's
  definition list, before the docstring is rendered (Markdown would show both as code blocks).
- Roles. neurorec's numpy-style docstrings cross-reference with Sphinx roles
  (``:class:`~neurorec.models.ESN```); mkdocstrings renders them as the role's name followed by the
  code. This strips the role, and a leading ``~`` keeps only the last component, as Sphinx shows it.
"""

from __future__ import annotations

import html as _html
import re

import griffe

_ROLE = re.compile(r":(?:py:)?(?:mod|func|class|meth|data|attr|exc|obj|const):<code>(~?)([^<]*)</code>")
_MATH_ROLE = re.compile(r":math:<code>([^<]*)</code>")
_ARITHMATEX = re.compile(r'<(span|div) class="arithmatex">(.*?)</\1>', re.S)


def _plain(match: re.Match) -> str:
    tilde, target = match.groups()
    return f"<code>{target.rsplit('.', 1)[-1] if tilde else target}</code>"


def mathml(tex: str, display: bool = False) -> str:
    """The MathML of the LaTeX formula ``tex`` (``display``: a block formula)."""
    from latex2mathml.converter import convert

    try:
        return convert(tex.strip(), display="block" if display else "inline")
    except Exception as exc:          # latex2mathml raises its own exception classes
        raise ValueError(f"cannot convert the formula {tex!r} to MathML: {exc}") from exc


def _arithmatex(match: re.Match) -> str:
    tag, body = match.groups()
    tex = _html.unescape(body).strip()
    for left, right in (("\\(", "\\)"), ("\\[", "\\]"), ("$$", "$$"), ("$", "$")):
        if tex.startswith(left) and tex.endswith(right):
            tex = tex[len(left):len(tex) - len(right)]
            break
    return mathml(tex, display=tag == "div")


def on_page_content(html: str, page=None, **kwargs) -> str:
    try:
        html = _ARITHMATEX.sub(_arithmatex, html)
        html = _MATH_ROLE.sub(lambda m: mathml(_html.unescape(m.group(1))), html)
    except ValueError as exc:
        where = getattr(getattr(page, "file", None), "src_path", "?")
        raise ValueError(f"{where}: {exc}") from exc
    return _ROLE.sub(_plain, html)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


# numpy docstring sections whose "name : type" entries griffe parses itself
_NUMPY_SECTIONS = {"parameters", "other parameters", "returns", "yields", "receives", "raises", "warns",
                   "attributes", "methods", "see also"}


def rst_to_markdown(text: str) -> str:
    """``text`` with each ``.. math::`` directive as a ``$$`` block and each definition list
    (a term line after a blank line, then lines indented under it; not in the numpy sections whose
    entries griffe parses) as Markdown's (``:   `` before the definition); code blocks (a
    paragraph ending in ``::``, doctest lines) left alone."""
    lines = text.split("\n")
    out: list[str] = []
    section = ""
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        ind = _indent(line)
        if i + 1 < len(lines) and stripped and set(lines[i + 1].strip()) == {"-"}:
            section = stripped.lower()            # a numpy section's heading
        if stripped.startswith(".. math::"):
            body = [stripped[len(".. math::"):].strip()]
            j = i + 1
            while j < len(lines) and (not lines[j].strip() or _indent(lines[j]) > ind):
                body.append(lines[j].strip())
                j += 1
            while body and not body[-1]:
                body.pop()
            pad = " " * ind
            formula = " ".join(b for b in body if b)
            out += [pad + "$$", pad + formula, pad + "$$"]
            if j < len(lines):
                out.append("")
            i = j
            continue
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        prev = lines[i - 1] if i else ""
        after = (not prev.strip() or set(prev.strip()) <= set("-=~") or _indent(prev) > ind)
        term = (section not in _NUMPY_SECTIONS and stripped and not stripped.endswith("::")
                and not stripped.startswith((">>>", "...", "- ", "* ")) and after and nxt.strip()
                and _indent(nxt) > ind and not prev.rstrip().endswith("::"))
        if term:
            j = i + 1
            while j < len(lines) and (not lines[j].strip() or _indent(lines[j]) > ind):
                j += 1
            body = rst_to_markdown("\n".join(ln[_indent(nxt):] for ln in lines[i + 1:j])).rstrip("\n").split("\n")
            pad = " " * ind
            if out and out[-1].strip() and set(out[-1].strip()) != {"-"}:
                out.append("")           # Markdown's definition lists need a blank line between entries
            out.append(line)
            out += [pad + (":   " if k == 0 else "    ") + b if b.strip() else "" for k, b in enumerate(body)]
            i = j
            continue
        out.append(line)
        i += 1
    return "\n".join(out)


class RstToMarkdown(griffe.Extension):
    """Rewrites every docstring with :func:`rst_to_markdown` as griffe loads it."""

    def on_instance(self, *, obj, **kwargs) -> None:
        if obj.docstring is not None and (".. math::" in obj.docstring.value or "\n    " in obj.docstring.value):
            obj.docstring.value = rst_to_markdown(obj.docstring.value)

"""Helpers shared by the vendor scripts in the top-level ``hardware/`` folder (not public API)."""

from __future__ import annotations

import os
from pathlib import Path


def output_problem(out: Path) -> str | None:
    """Why the output file ``out`` cannot be written (checked before any vendor work), or None."""
    if out.is_dir():
        return f"{out} is a folder; give the name of the .npz file to write"
    folder = out.absolute().parent
    if not folder.is_dir():
        return f"cannot write {out}: the folder {folder} does not exist"
    if not os.access(folder, os.W_OK | os.X_OK) or (out.exists() and not os.access(out, os.W_OK)):
        return f"cannot write {out}: permission denied"
    return None

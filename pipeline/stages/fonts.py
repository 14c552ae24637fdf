"""Fonts for every script in the data, through matplotlib's per-glyph fallback (a list in `font.family`).

matplotlib's default, DejaVu Sans, has no CJK, Ethiopic, Indic, Thai, Khmer or Myanmar glyphs, so labels
and attention-map tokens in those scripts printed as empty boxes. The Noto faces come from two PyPI
packages, found through importlib, so a fresh clone gets them with its other dependencies and plots need
no network. Noto faces that the OS has join by name: Debian's fonts-noto-core adds Tibetan and Ol Chiki,
which no PyPI font package covers.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.resources
import logging
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import matplotlib
from matplotlib import font_manager

log = logging.getLogger(__name__)

# manimgx-fonts: Noto Sans and one Noto Sans face per script outside CJK; noto-cjk-sans-otc: Noto Sans CJK.
FONT_PACKAGES = ("manimgx_fonts", "noto_cjk_sans_otc")
FONT_SUFFIXES = (".ttf", ".otf", ".ttc")

# The order matplotlib tries for each glyph. Noto Sans first (Latin, Greek, Cyrillic), then one face per
# script, so no word is split between two designs (DejaVu has most of Arabic but not all, and a word drawn
# from two fonts loses its joins). One CJK face: they share their characters and differ only in regional
# glyph shapes, and Simplified Chinese is the largest CJK language in the data. The last four come from
# the OS when present.
PREFERRED = (
    "Noto Sans",
    "Noto Sans Arabic",
    "Noto Sans Armenian",
    "Noto Sans Bengali",
    "Noto Sans Devanagari",
    "Noto Sans Ethiopic",
    "Noto Sans Georgian",
    "Noto Sans Gujarati",
    "Noto Sans Gurmukhi",
    "Noto Sans Hebrew",
    "Noto Sans Kannada",
    "Noto Sans Khmer",
    "Noto Sans Lao",
    "Noto Sans Malayalam",
    "Noto Sans Myanmar",
    "Noto Sans Oriya",
    "Noto Sans Sinhala",
    "Noto Sans Tamil",
    "Noto Sans Telugu",
    "Noto Sans Thai",
    "Noto Sans CJK SC",
    "Noto Sans Symbols",
    "Noto Emoji",
    "Noto Serif Tibetan",
    "Noto Sans Ol Chiki",
    "Noto Sans NKo",
    "Noto Sans Tifinagh",
)
# Always present (matplotlib ships it); last, for what the Noto faces above lack: N'Ko and Tifinagh when the
# OS has no Noto faces for them.
FALLBACK = "DejaVu Sans"

P = ParamSpec("P")
R = TypeVar("R")


def _register_packaged() -> None:
    """Add the packages' faces to matplotlib's font manager, each once, also as bold.

    matplotlib draws a variable font at its default instance only, and the CJK collection is Regular only,
    so there is no bold face to find. Without the bold entry, every bold text (the t-SNE labels) logs
    'Failed to find font weight bold' once per family in the list; with it, bold text in these faces is
    drawn at regular weight. A real bold face the OS has is earlier in the font manager's list, so it still wins.
    """
    manager = font_manager.fontManager
    known = {entry.fname for entry in manager.ttflist}
    for package in FONT_PACKAGES:
        try:
            folder = importlib.resources.files(package)
        except ModuleNotFoundError:
            continue
        for resource in sorted(folder.iterdir(), key=lambda r: r.name):
            path = str(resource)
            if not resource.name.endswith(FONT_SUFFIXES) or path in known:
                continue
            manager.addfont(path)
            added = [entry for entry in manager.ttflist if entry.fname == path]
            manager.ttflist.extend(dataclasses.replace(entry, weight=700) for entry in added)


@functools.cache
def families() -> tuple[str, ...]:
    """The `font.family` list: the preferred faces that are installed, then DejaVu Sans. Computed once."""
    _register_packaged()
    available = {entry.name for entry in font_manager.fontManager.ttflist}
    chosen = [name for name in PREFERRED if name in available]
    if not chosen:
        log.info(
            "no Noto fonts found (pip install manimgx-fonts noto-cjk-sans-otc); plots use %s, "
            "which prints CJK, Ethiopic and Indic text as empty boxes",
            FALLBACK,
        )
    return (*chosen, FALLBACK)


def all_scripts(draw: Callable[P, R]) -> Callable[P, R]:
    """Run a drawing function with the fallback list, scoped so that other figures keep their settings.

    The list must be in force while the figure is saved: tick labels are created when it is drawn.
    """

    @functools.wraps(draw)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with matplotlib.rc_context({"font.family": list(families())}):
            return draw(*args, **kwargs)

    return wrapper

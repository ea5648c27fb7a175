"""A deterministic corpus of real source text that ships with the Python installation.

We walk the standard library and the C include directory, keep files in languages pygments
knows, sort them, and with a seeded random.Random pick files and cut each to a target size drawn
log-uniformly between MIN_BYTES and MAX_BYTES (whole lines). Same Python + same seed -> same corpus.
"""

from __future__ import annotations

import math
import random
import sysconfig
from dataclasses import dataclass
from pathlib import Path

MIN_BYTES = 200
MAX_BYTES = 20_000

LANGUAGES = {
    ".py": "python",
    ".h": "c",
    ".c": "c",
    ".json": "json",
    ".xml": "xml",
    ".html": "html",
    ".css": "css",
    ".toml": "toml",
    ".sh": "bash",
    ".bat": "batch",
    ".cfg": "ini",
}


@dataclass(frozen=True)
class Source:
    language: str
    name: str
    code: str


def source_files() -> list[tuple[str, Path]]:
    """(language, path) of every usable file, sorted by path, grouped by language."""
    roots = {Path(sysconfig.get_paths()["stdlib"]), Path(sysconfig.get_paths()["include"])}
    found: list[tuple[str, Path]] = []
    for root in sorted(roots):
        if not root.is_dir():
            continue
        for path in root.rglob("*"):
            if "site-packages" in path.parts or "dist-packages" in path.parts:
                continue
            lang = LANGUAGES.get(path.suffix)
            if lang and path.is_file() and path.stat().st_size >= MIN_BYTES:
                found.append((lang, path))
    found.sort(key=lambda item: str(item[1]))
    if not found:
        raise RuntimeError("no source files found in the Python installation to build the corpus")
    return found


def _cut(text: str, target: int) -> str:
    out, size = [], 0
    for line in text.splitlines(keepends=True):
        if size >= target:
            break
        out.append(line)
        size += len(line)
    return "".join(out)


def build(n: int, seed: int = 1) -> list[Source]:
    """n snippets; languages are picked round-robin so every language available is present."""
    rng = random.Random(seed)
    files = source_files()
    by_lang: dict[str, list[Path]] = {}
    for lang, path in files:
        by_lang.setdefault(lang, []).append(path)
    langs = sorted(by_lang)
    snippets: list[Source] = []
    attempts = 0
    while len(snippets) < n:
        attempts += 1
        if attempts > n * 50:
            raise RuntimeError("could not build the corpus: too few readable source files")
        lang = langs[len(snippets) % len(langs)] if len(snippets) < 2 * len(langs) else rng.choice(
            ["python"] * 3 + langs if "python" in by_lang else langs
        )
        path = rng.choice(by_lang[lang])
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        target = int(math.exp(rng.uniform(math.log(MIN_BYTES), math.log(MAX_BYTES))))
        code = _cut(text, target)
        if len(code) < MIN_BYTES:
            code = text[: max(target, MIN_BYTES)]
        if len(code) < MIN_BYTES // 2:
            continue
        snippets.append(Source(lang, path.name, code))
    return snippets

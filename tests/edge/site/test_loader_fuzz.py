"""The site loader fuzzed with structured TOML mutations of the example site files (issue 18).

Every input is valid TOML, written next to a copy of the example tariffs (the site file names them), so every
refusal must be the loader's own :class:`SiteError` with each problem at a key path of the document; anything else
(a ``KeyError`` in a cross-check, a ``TypeError`` on a wrong type) is a crash.
"""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path
from typing import Any

import pytest

from edge.site.loader import SiteError, load_site
from edge.site.model import SiteConfig
from tests.fuzzing import Campaign, TomlMutator, check_refusal, toml_text

CONFIG = Path(__file__).resolve().parents[3] / "config"
SITES = [CONFIG / "small.toml", CONFIG / "riverside.toml"]
ROOTS = set(SiteConfig.model_fields)


def site_campaign(folder: Path, count: int, seed: int) -> Campaign:
    shutil.copytree(CONFIG / "tariffs", folder / "tariffs")
    docs = [tomllib.loads(path.read_text(encoding="utf-8")) for path in SITES]
    mutator = TomlMutator(seed, docs)
    site_file = folder / "site.toml"

    def one(doc: dict[str, Any]) -> None:
        site_file.write_text(toml_text(doc), encoding="utf-8")
        try:
            load_site(site_file)
        except SiteError as err:
            check_refusal(err.problems, doc, ROOTS)
            raise

    return Campaign("site loader (TOML mutations)", SiteError).run(mutator.many(count), one)


def test_fuzz_site_loader_short(tmp_path: Path) -> None:
    site_campaign(tmp_path, 1_500, seed=1).finish("short")


@pytest.mark.fuzz
@pytest.mark.timeout(3600)
def test_fuzz_site_loader_long(tmp_path: Path) -> None:
    site_campaign(tmp_path, 100_000, seed=2).finish("long")

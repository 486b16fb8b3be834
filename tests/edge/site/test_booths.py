"""The site file's booths: a site without them has one booth over every lane; with them, every lane belongs to
exactly one booth and each booth's console has its own address, or the file is refused at the key path."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.site import SiteError, load_site, summary
from tests.edge.console.test_api import site_text, write_site


def test_a_site_without_booths_has_one_booth_over_every_lane(tmp_path: Path) -> None:
    site = load_site(write_site(tmp_path, site_text()))
    assert site.booth_lanes() == {"B1": ["in-1", "out-1"]}


def test_booths_list_their_lanes_in_the_site_files_order(tmp_path: Path) -> None:
    text = site_text() + '\n[booths.B1]\nlanes = ["out-1", "in-1"]\n'
    site = load_site(write_site(tmp_path, text))
    assert site.booth_lanes() == {"B1": ["in-1", "out-1"]}
    assert "Booths: B1 (in-1, out-1). " in summary(site)


@pytest.mark.parametrize(
    ("booths", "path", "message"),
    [
        ('[booths.B1]\nlanes = ["in-1"]\n', "lanes[1]", "lane 'out-1' belongs to no booth"),
        ('[booths.B1]\nlanes = ["in-1", "out-1", "out-9"]\n', "booths.B1.lanes[2]", "unknown lane 'out-9'"),
        (
            '[booths.B1]\nlanes = ["in-1", "out-1"]\n[booths.B2]\nlanes = ["out-1"]\nconsole_listen = "0.0.0.0:8701"\n',
            "booths.B2.lanes[0]",
            "staffed by booth 'B1' already",
        ),
        (
            '[booths.B1]\nlanes = ["in-1"]\n[booths.B2]\nlanes = ["out-1"]\n',
            "booths.B2.console_listen",
            "only one booth's console is on [console] listen",
        ),
        (
            '[booths.B1]\nlanes = ["in-1"]\n[booths.B2]\nlanes = ["out-1"]\nconsole_listen = "127.0.0.1:8700"\n',
            "booths.B2.console_listen",
            "is [console] listen",
        ),
    ],
)
def test_booth_problems_are_named_at_their_key_path(tmp_path: Path, booths: str, path: str, message: str) -> None:
    with pytest.raises(SiteError) as caught:
        load_site(write_site(tmp_path, site_text() + "\n" + booths))
    problems = {p.path: p.message for p in caught.value.problems}
    assert message in problems[path], problems

"""The measuring tools of issue 15's table: house.py finds a private
Textual name however it is used and leaves the project's own alone;
compare.py reads the figures bench-load and bench-startup print (both the
old and the new wording of bench-load's first row)."""

from __future__ import annotations

import pytest

from tests.bench import compare, house

pytestmark = pytest.mark.unit

# Spelt apart, so that a grep for private Textual names finds none here.
SEGMENT_TOOLS, COMPOSITOR = "_" + "segment_tools", "_" + "compositor"


def plant(root, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_house_finds_each_kind_of_private_textual_use_and_nothing_of_ours(tmp_path):
    plant(tmp_path, {
        "widgets/board.py": (
            f"from textual.{SEGMENT_TOOLS} import line_crop\n"
            "from textual.scroll_view import ScrollView\n"
            "class Board(ScrollView):\n"
            "    def __init__(self):\n"
            "        self._mine = 1\n"
            "    def draw(self):\n"
            "        return self._mine, self._styles_cache\n"),
        "console/plain.py": "class Plain:\n    def __init__(self):\n        self._lock = 1\n",
        "tests/screen.py": f"def lines(app):\n    return app.{COMPOSITOR}, app._mine\n",
    })
    definite, _ = house.private_textual_uses(tmp_path)
    text = "\n".join(definite)
    assert f"from textual.{SEGMENT_TOOLS} import" in text
    assert f"tests/screen.py:2: .{COMPOSITOR}" in text
    assert "self._styles_cache is Textual's" in text
    assert "_mine" not in text and "_lock" not in text
    assert len(definite) == 3, definite


def test_house_counts_import_circles(tmp_path):
    plant(tmp_path, {"console/__init__.py": "", "widgets/__init__.py": "",
                     "console/a.py": "from console import b\n",
                     "console/b.py": "def f():\n    from console import a\n"})
    assert house.circles(tmp_path) == [["console.a", "console.b"]]


LOAD_OLD = """key press -> screen                   n  median ms   p95 ms   max ms  target
cursor moved, frame composed        200       21.3     48.0     90.1  <= 100
detail pane shows it, frame         200       30.5     61.2    120.0  <= 100
event-loop lag (20 ms sleep)       4000        2.1     20.9    133.3
"""


def test_compare_reads_bench_load_in_either_wording():
    for out in (LOAD_OLD, LOAD_OLD.replace("frame composed", "frame written")):
        assert compare.load_figures(out) == {
            "cursor_median_ms": 21.3, "cursor_p95_ms": 48.0,
            "detail_median_ms": 30.5, "detail_p95_ms": 61.2, "lag_p95_ms": 20.9}
    rss = ("RSS MiB                                59.1       75.0     98.5\n"
           "RSS MiB of the poll process                                74.9\n")
    assert compare.load_figures(LOAD_OLD + rss)["rss_end_mib"] == pytest.approx(98.5 + 74.9)
    with pytest.raises(RuntimeError, match="no key -> frame table"):
        compare.load_figures("Traceback ...")


def test_compare_reads_bench_startup():
    out = """median of 10                  seconds
floor (one DataTable)            0.61
cbconsole --demo board           1.02
payment-api OPEN 3/3             3.40
ratio board/floor                1.67   (target <= 2.00)
"""
    assert compare.startup_figures(out) == {"ratio": 1.67, "board_s": 1.02, "floor_s": 0.61}

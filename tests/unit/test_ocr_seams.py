"""Lines cut by the seam between two panorama views are read back whole (tools/ocr/seams.py)."""

import pytest

from sinoloc.tools.ocr import OcrSpan, merge_spans
from sinoloc.tools.ocr.seams import join_seams, join_text
from sinoloc.tools.views import WHOLE_IMAGE, panorama_views, view_angles

VIEWS = panorama_views(2048)  # four 100° views, 10° of overlap at each seam
A, B = VIEWS[0], VIEWS[1]  # headings 0 and 90: the seam near 45°


def x_at(spec, lon, y):
    """The column of ``spec`` that looks at longitude ``lon`` on row ``y`` (bisection)."""
    lo, hi = 0.0, spec.width - 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if view_angles(spec, mid, y)[0] < lon:
            lo = mid
        else:
            hi = mid
    return lo


def at(text, spec, lon0, lon1, y0=150.0, y1=190.0, score=0.9):
    """A span of ``spec`` covering longitudes lon0..lon1 (clipped to the view, as a cut is)."""
    ym = (y0 + y1) / 2
    x0 = max(0.0, x_at(spec, lon0, ym)) if lon0 > view_angles(spec, 0, ym)[0] else 0.0
    x1 = x_at(spec, lon1, ym) if lon1 < view_angles(spec, spec.width - 1, ym)[0] else spec.width - 1.0
    return OcrSpan(span_id="", text=text, score=score, view_id=spec.view_id, heading=spec.heading,
                   box=[(x0, y0), (x1, y0), (x1, y1), (x0, y1)], height_px=y1 - y0)


def edges():
    ym = 170.0
    return view_angles(A, A.width - 1, ym)[0], view_angles(B, 0, ym)[0]


@pytest.mark.parametrize("left,right,shared,joined", [
    ("邮编：744", "744375", 2.5, "邮编：744375"),  # the overlap read twice
    ("北部湾银", "3湾银行", 1.5, "北部湾银行"),  # the cut letter misread on one side
    ("邮编：7", "744375", 0.5, "邮编：744375"),
    ("山东工业职", "业职业学院", 2.0, "山东工业职业学院"),
    ("杭州", "35km", 0.2, "杭州35km"),  # almost nothing shared: the two readings abut
])
def test_join_text_at_the_overlap(left, right, shared, joined):
    assert join_text(left, right, shared) == joined


def test_join_text_refuses_readings_that_do_not_overlap_where_they_should():
    assert join_text("邮编：744", "银行", 2.5) is None
    assert join_text("沙", "少家埭村", 0.5) is None  # the cut letter read twice, differently


def test_a_line_cut_by_the_seam_becomes_one_span():
    a_end, b_start = edges()  # about 50° and 40°: view A sees up to a_end, view B from b_start
    left = at("北部湾银", A, a_end - 28, a_end + 5)  # the sign spans b_start-20 … b_start+25
    right = at("3湾银行", B, b_start - 5, b_start + 25)
    out = merge_spans(join_seams([left, right], VIEWS))
    texts = [s.text for s in out]
    assert "北部湾银行" in texts and "北部湾银" not in texts  # the misread half may stay
    joined = out[texts.index("北部湾银行")]
    assert joined.view_id == A.view_id and joined.also_in == [B.view_id]


def test_a_line_over_three_views_is_joined_twice():
    c = VIEWS[2]
    ym = 170.0
    a_end, b_start = edges()
    b_end, c_start = view_angles(B, B.width - 1, ym)[0], view_angles(c, 0, ym)[0]
    spans = [at("山东工业职", A, a_end - 30, a_end + 5), at("业职业学院附属中学", B, b_start - 5, b_end + 5),
             at("中学", c, c_start - 5, c_start + 6)]
    assert [s.text for s in merge_spans(join_seams(spans, VIEWS))] == ["山东工业职业学院附属中学"]


def test_spans_on_different_lines_at_the_seam_stay_apart():
    a_end, b_start = edges()
    left = at("北部湾银", A, a_end - 28, a_end + 5, y0=100, y1=140)
    right = at("3湾银行", B, b_start - 5, b_start + 25, y0=200, y1=240)
    assert sorted(s.text for s in join_seams([left, right], VIEWS)) == ["3湾银行", "北部湾银"]


def test_spans_away_from_the_view_edges_are_not_joined():
    left = at("北部湾银行", A, -10, 10)
    right = at("邮编：744375", B, 70, 100)
    assert sorted(s.text for s in join_seams([left, right], VIEWS)) == ["北部湾银行", "邮编：744375"]


def test_a_cut_reading_another_view_read_whole_is_dropped():
    a_end, b_start = edges()
    whole = at("北部湾银行", B, b_start + 2, b_start + 30)  # whole in view B
    cut = at("北部湾银X", A, b_start + 2, a_end + 5)  # cut by A's right edge, last letter misread
    assert [s.text for s in merge_spans(join_seams([whole, cut], VIEWS))] == ["北部湾银行"]


def test_whole_image_spans_pass_unchanged():
    span = OcrSpan(span_id="", text="邮编：7", score=0.9, view_id="full",
                   box=[(0, 0), (99, 0), (99, 20), (0, 20)])
    assert join_seams([span], [WHOLE_IMAGE]) == [span]


def test_a_whole_reading_beside_a_fragment_survives_a_wrong_join():
    """A sign starting just inside view B's left edge looks cut; view A read one garbled letter
    of it. Whatever the join makes of them, the whole reading stays."""
    a_end, b_start = edges()
    whole = at("沙家埭村村民委员会", B, b_start + 1.5, b_start + 45)
    fragment = at("沙少", A, b_start - 3, a_end + 5)
    texts = [s.text for s in merge_spans(join_seams([fragment, whole], VIEWS))]
    assert "沙家埭村村民委员会" in texts

"""RapidOCR, the offline default engine, loads its models and reads the rendered shop sign."""

from imaging import hangzhou_shop

from sinoloc.tools.ocr import read_views
from sinoloc.tools.views import WHOLE_IMAGE


def test_rapidocr_reads_the_rendered_sign():
    from sinoloc.tools.ocr import get_engine

    spans = read_views(hangzhou_shop(), [WHOLE_IMAGE], get_engine("rapidocr"))
    joined = " ".join(s.text for s in spans)
    assert "杭州市西湖区文三路138号" in joined and "0571" in joined
    assert all(len(s.box) == 4 and 0.5 <= s.score <= 1 for s in spans)

"""``sanitize_text`` skips the HTML parser only for text the parser would return unchanged."""

import random
import string

import nh3
import pytest

from activity_feed.publish import sanitize_text


def _reference(value: str) -> str:
    return nh3.clean(value, tags=set()).strip()


@pytest.mark.parametrize(
    "value",
    [
        "Run completed: PO_Approval v1.2.0",
        "a & b",
        "x < y > z",
        "<script>alert(1)</script>Title",
        "<b>bold</b>",
        "café crème",
        "non\u00a0breaking",
        "nul\x00byte",
        "windows\r\nline",
        "  padded  ",
        "",
    ],
)
def test_the_result_is_what_nh3_returns(value):
    assert sanitize_text(value) == _reference(value)


def test_random_text_over_a_markup_rich_alphabet_matches_nh3():
    rng = random.Random(20261202)
    alphabet = string.printable + "<<>>&&\x00\u00a0é€\x7f\x1f\x0b"
    for _ in range(2000):
        value = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24)))
        assert sanitize_text(value) == _reference(value), repr(value)

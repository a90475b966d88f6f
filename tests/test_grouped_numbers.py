"""Numbers as each edition writes them (the glossary's convention): a decimal point in both; thousands grouped by a
comma in English and by a narrow no-break space in Vietnamese, in the prose and in what the notebooks print."""
from __future__ import annotations

import re

import nbformat
import pytest

from _course import SOLUTIONS
from lrcourse.i18n import grouped, using


def test_grouped_follows_the_language():
    assert grouped(77429) == "77,429" and grouped(1890.6) == "1,891" and grouped(1234.5, decimals=1) == "1,234.5"
    with using("vi"):
        assert grouped(77429) == "77\u202f429" and grouped(999) == "999" and grouped(-1234567) == "-1\u202f234\u202f567"
    with pytest.raises(ValueError, match="decimals must be >= 0, got -1"):
        grouped(1.0, decimals=-1)


THOUSANDS_WITH_A_COMMA = re.compile(r"(?<![\d.])\d{1,3}(?:,\d{3})+(?![\d])")


@pytest.mark.parametrize("path", sorted((SOLUTIONS / "vi").glob("*.ipynb")), ids=lambda p: p.name)
def test_the_vietnamese_edition_never_groups_thousands_with_a_comma(path):
    nb = nbformat.read(path, as_version=4)
    found = []
    for cell in nb.cells:
        texts = [cell.source] if cell.cell_type == "markdown" else [
            o.get("text", "") if o.output_type == "stream" else o.get("data", {}).get("text/plain", "")
            for o in cell.get("outputs", [])]
        for text in texts:
            text = re.sub(r"\$[^$]*\$", " ", text)   # formulas may list arguments: $f(1,000)$ is not a number
            found += [f"{cell.get('id')}: {m.group(0)}" for m in THOUSANDS_WITH_A_COMMA.finditer(text)]
    assert found == []

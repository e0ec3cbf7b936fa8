"""The README's sample of a generated module is what `f.source` prints."""

from __future__ import annotations

import re
from pathlib import Path

import tensorc as tc

README = Path(__file__).resolve().parents[2] / "README.md"
SAMPLE = re.compile(
    r'^>>> print\(tc\.compile\("(?P<source>[^"]*)", backend="(?P<backend>\w+)"\)\.source\)\n'
    r"(?P<module>.*?)^```",
    re.MULTILINE | re.DOTALL,
)


def test_the_readme_shows_the_generated_module_as_it_is() -> None:
    samples = list(SAMPLE.finditer(README.read_text(encoding="utf-8")))
    assert samples, "the README shows no generated module"
    for sample in samples:
        f = tc.compile(sample["source"], backend=sample["backend"])
        assert sample["module"] == f.source

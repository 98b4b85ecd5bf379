"""The user docs name every configuration key and every annotation the code reads."""

from pathlib import Path

from luna_autoscaler.config import config_keys, provider_sections
from luna_autoscaler.models.constraints import ANNOTATIONS

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_every_config_key_is_documented() -> None:
    """Core keys in docs/configuration.md; a provider's section there or in its own page (docs/gcp.md...)."""
    text = (DOCS / "configuration.md").read_text()
    missing = []
    for key in config_keys():
        section = key.split(".", 1)[0]
        page = DOCS / f"{section}.md"
        own = page.read_text() if section in provider_sections() and page.exists() else ""
        if f"`{key}`" not in text and f"`{key}`" not in own:
            missing.append(key)
    assert not missing, f"the docs do not document {missing}"


def test_every_annotation_is_documented() -> None:
    text = (DOCS / "annotations.md").read_text()
    missing = [a for a in ANNOTATIONS if f"`{a}`" not in text]
    assert not missing

"""The user docs name every configuration key and every annotation the code reads."""

from pathlib import Path

from pydantic import BaseModel

from luna_autoscaler.config import Config
from luna_autoscaler.models.constraints import ANNOTATIONS

DOCS = Path(__file__).resolve().parents[2] / "docs"


def keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    out = []
    for name, field in model.model_fields.items():
        key = prefix + (field.alias or name)
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel) and name not in ("gpu_time_slicing",):
            out += keys(annotation, key + ".")
        else:
            out.append(key)
    return out


def test_every_config_key_is_documented() -> None:
    text = (DOCS / "configuration.md").read_text()
    missing = [k for k in keys(Config) if f"`{k}`" not in text]
    assert not missing, f"docs/configuration.md does not document {missing}"


def test_every_annotation_is_documented() -> None:
    text = (DOCS / "annotations.md").read_text()
    missing = [a for a in ANNOTATIONS if f"`{a}`" not in text]
    assert not missing

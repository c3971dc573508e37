"""Public schemas for the benchmark datasets (package data; no records inside).

The bounds and levels come from the datasets' public documentation or are
chosen round numbers (each JSON file's ``description`` says which); none are
read from the data. The datasets themselves are not shipped with redp.

Examples
--------
>>> from redp.data import load_schema, SCHEMAS
>>> SCHEMAS
('adult', 'german_credit', 'breast_cancer')
>>> s = load_schema("adult")
>>> len(s.names), s.columns["age"]
(15, Integer(lower=17, upper=90, bins=16))
"""

from __future__ import annotations

import json
from importlib import resources

__all__ = ["load_schema", "schema_description", "SCHEMAS"]

SCHEMAS = ("adult", "german_credit", "breast_cancer")


def _read(name: str) -> dict:
    if name not in SCHEMAS:
        raise ValueError(f"The 'name' parameter of load_schema must be one of {list(SCHEMAS)}. Got {name!r} instead.")
    return json.loads(resources.files(__package__).joinpath(f"{name}.json").read_text(encoding="utf-8"))


def load_schema(name: str):
    """The public :class:`~redp.schema.Schema` of a benchmark dataset (``"adult"``, ``"german_credit"`` or ``"breast_cancer"``)."""
    from ..schema import Schema

    return Schema.from_dict(_read(name))


def schema_description(name: str) -> str:
    """Where the bounds and levels of a packaged schema come from.

    >>> "public" in schema_description("german_credit").lower()
    True
    """
    return _read(name)["description"]

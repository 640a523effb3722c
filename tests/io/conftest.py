"""Fixtures of the STAC tests."""

from __future__ import annotations

import copy

import pytest
from stac_schemas import stored, stored_schemas_io


@pytest.fixture
def offline_pystac():
    """pystac validates with the stored schemas only (any other URL raises)."""
    pystac = pytest.importorskip("pystac")
    validation = pytest.importorskip("pystac.validation")
    default_io = pytest.importorskip("pystac.stac_io").DefaultStacIO
    pystac.StacIO.set_default(stored_schemas_io())
    validator = validation.JsonSchemaSTACValidator()
    validator.schema_cache = copy.deepcopy(stored())
    validation.set_validator(validator)
    yield
    validation.set_validator(validation.JsonSchemaSTACValidator())
    pystac.StacIO.set_default(default_io)  # pystac's own default

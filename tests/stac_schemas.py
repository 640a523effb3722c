"""Offline STAC validation against the JSON schemas stored in ``tests/data/stac-schemas``.

The files sit under their public URL (``https://<host>/<path>``), so a schema's ``$ref``
to another one resolves from the store; a reference to anything not stored fails the
test instead of reaching the network. Two validators use the same store:

* `validate`: ``jsonschema`` with a ``referencing`` registry, for any STAC or STAC API
  document (the core schema of its ``type`` and ``stac_version``, then each extension);
* `stored_schemas_io`: a pystac ``StacIO`` that reads schema URLs from the store, so
  ``pystac.Item.validate()`` runs offline (`offline_validation` installs it with a
  validator whose cache holds the store; see ``tests/stac/test_stac_validity.py``);
* `validate_api`: an answer of a STAC API against a schema of the STAC API 1.0.0 OpenAPI
  documents (``api.stacspec.org/v1.0.0/*.yaml``), e.g. ``"core/openapi.yaml#landingPage"``.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource
from referencing.jsonschema import DRAFT7

STORE = Path(__file__).parent / "data" / "stac-schemas"
_CORE = {
    "Feature": "item-spec/json-schema/item.json",
    "Collection": "collection-spec/json-schema/collection.json",
    "Catalog": "catalog-spec/json-schema/catalog.json",
}


@functools.cache
def stored() -> dict[str, dict[str, Any]]:
    """Every stored schema by its URL (no fragment); callers must not change them."""
    return {
        "https://" + path.relative_to(STORE).as_posix(): json.loads(path.read_text())
        for path in sorted(STORE.rglob("*.json"))
    }


def _refuse(uri: str) -> Resource[Any]:
    raise NoSuchResource(ref=uri)  # offline: a schema that is not stored is an error


def _nullable(node: Any) -> Any:
    """OpenAPI 3.0's ``nullable: true`` in JSON Schema terms (``type: [t, "null"]``)."""
    if isinstance(node, list):
        return [_nullable(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _nullable(v) for k, v in node.items() if k != "nullable"}
    if node.get("nullable") is True and isinstance(node.get("type"), str):
        out["type"] = [node["type"], "null"]
    return out


@functools.cache
def stored_api() -> dict[str, dict[str, Any]]:
    """The STAC API OpenAPI documents by URL, their schemas made JSON Schema."""
    return {
        "https://" + path.relative_to(STORE).as_posix(): _nullable(yaml.safe_load(path.read_text()))
        for path in sorted(STORE.rglob("*.yaml"))
    }


@functools.cache
def registry() -> Registry[Any]:
    """A registry of the stored schemas that never fetches."""
    resources = [(uri, Resource.from_contents(schema)) for uri, schema in stored().items()]
    resources += [(uri, DRAFT7.create_resource(doc)) for uri, doc in stored_api().items()]
    return Registry(retrieve=_refuse).with_resources(resources)  # type: ignore[call-arg]


def api_errors(doc: Any, where: str) -> list[str]:
    """Errors of an API answer against ``"<file>#<schema name>"`` of STAC API 1.0.0."""
    path, _, name = where.partition("#")
    ref = f"https://api.stacspec.org/v1.0.0/{path}#/components/schemas/{name}"
    validator = jsonschema.Draft7Validator(
        {"$ref": ref}, registry=registry(), format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
    )
    return [f"{where}: {e.json_path}: {e.message}" for e in validator.iter_errors(doc)]


def validate_api(doc: Any, where: str) -> None:
    """Raise ``AssertionError`` when an API answer does not match its STAC API schema."""
    found = api_errors(doc, where)
    assert not found, "\n".join(found[:5])


def core_schema(doc: Mapping[str, Any]) -> str:
    """The URL of the core schema of a STAC document (by ``type`` and ``stac_version``)."""
    return f"https://schemas.stacspec.org/v{doc['stac_version']}/{_CORE[doc['type']]}"


def errors(doc: Mapping[str, Any], schema_uri: str | None = None) -> Iterator[str]:
    """Validation errors of ``doc``: against ``schema_uri``, else its core and extensions."""
    uris = [schema_uri] if schema_uri else [core_schema(doc), *doc.get("stac_extensions", [])]
    for uri in uris:
        validator = _validator(uri.rstrip("#"))
        for error in validator.iter_errors(doc):
            yield f"{uri}: {error.json_path}: {error.message}"


@functools.cache
def _validator(uri: str) -> Any:
    schema = registry().contents(uri)
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, registry=registry(), format_checker=cls.FORMAT_CHECKER)


def validate(doc: Mapping[str, Any], schema_uri: str | None = None) -> None:
    """Raise ``AssertionError`` listing the first errors when ``doc`` is not valid."""
    found = list(errors(doc, schema_uri))
    assert not found, "\n".join(found[:5])


def stored_schemas_io() -> Any:
    """A pystac ``StacIO`` that reads schema URLs from the store (and nothing else online)."""
    import pystac
    from pystac.stac_io import DefaultStacIO

    schemas = {uri: json.dumps(schema) for uri, schema in stored().items()}

    class StoredSchemasIO(DefaultStacIO):
        def read_text(self, source: Any, *args: Any, **kwargs: Any) -> str:
            href = str(pystac.utils.make_absolute_href(str(source))).rstrip("#")
            if href.startswith(("http://", "https://")):
                if href not in schemas:
                    raise OSError(f"{href} is not in {STORE}; store it to validate offline")
                return schemas[href]
            return super().read_text(source, *args, **kwargs)

    return StoredSchemasIO


@contextlib.contextmanager
def offline_validation() -> Iterator[None]:
    """pystac validates with the stored schemas only (any other URL raises), then as before."""
    import importlib

    import pystac
    from pystac.stac_io import DefaultStacIO

    validation = importlib.import_module("pystac.validation")  # its attribute warns
    pystac.StacIO.set_default(stored_schemas_io())
    validator = validation.JsonSchemaSTACValidator()
    validator.schema_cache = copy.deepcopy(stored())
    validation.set_validator(validator)
    try:
        yield
    finally:
        validation.set_validator(validation.JsonSchemaSTACValidator())
        pystac.StacIO.set_default(DefaultStacIO)  # pystac's own default

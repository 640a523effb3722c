"""Offline STAC validation against the JSON schemas stored in ``tests/data/stac-schemas``.

The files sit under their public URL (``https://<host>/<path>``), so a schema's ``$ref``
to another one resolves from the store; a reference to anything not stored fails the
test instead of reaching the network. Two validators use the same store:

* `validate`: ``jsonschema`` with a ``referencing`` registry, for any STAC or STAC API
  document (the core schema of its ``type`` and ``stac_version``, then each extension);
* `stored_schemas_io`: a pystac ``StacIO`` that reads schema URLs from the store, so
  ``pystac.Item.validate()`` runs offline (see ``tests/test_stac_validity.py``).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource

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


@functools.cache
def registry() -> Registry[Any]:
    """A registry of the stored schemas that never fetches."""
    return Registry(retrieve=_refuse).with_resources(  # type: ignore[call-arg]
        (uri, Resource.from_contents(schema)) for uri, schema in stored().items()
    )


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

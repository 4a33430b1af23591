"""Contracts written in Python: one ``msgspec.Struct`` per event type, its JSON Schema generated.

A team that keeps its contracts in Python writes each event type once, as a frozen struct
carrying its routing in class variables::

    class ArticleFavorited(Contract, frozen=True):
        \"\"\"A reader marked an article as a favourite.\"\"\"

        type = "article.favorited"
        version = 1
        aggregate_type = "article"
        subject_field = "article_id"

        article_id: str
        reader_id: str

:func:`encode` / :func:`decode` go through msgspec (no hand-written ``to_dict`` /
``from_dict``); :func:`schema_files` turns the structs into the ``<type>.v<N>.json`` files
of a contracts directory (:mod:`events.registry`), which stays the language-neutral source
of truth: the generator writes each struct's *current* version and never an older one (old
versions stay as committed files, with an upcaster when the data changed shape). A field
with a default is optional in the schema, so adding one is backward compatible.

Pure: no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, TypeVar

import msgspec

from events.contract_files import DRAFT_2020_12, SCHEMA_FILE, file_name
from events.envelope import DEFAULT_SOURCE, schema_uri
from events.errors import ContractDecodeError, ContractDefinitionError

C = TypeVar("C", bound="Contract")
_ROUTING = ("type", "version", "aggregate_type", "subject_field")
_ENCODER = msgspec.json.Encoder()
_JSON_TYPES: dict[type, str] = {str: "string", int: "integer", bool: "boolean"}


class Contract(msgspec.Struct, frozen=True):
    """Base of an event (or command) contract written in Python.

    Subclasses set ``type`` (``article.favorited``), ``version`` (of the current schema),
    ``aggregate_type`` (the outbox ``aggregatetype``: the topic it routes to) and
    ``subject_field`` (the field holding the aggregate id: the Kafka key); ``default_source``
    is the envelope's source when the producer gives none.
    """

    type: ClassVar[str]
    version: ClassVar[int]
    aggregate_type: ClassVar[str]
    subject_field: ClassVar[str]
    default_source: ClassVar[str] = DEFAULT_SOURCE

    @property
    def subject(self) -> str:
        """The aggregate id: the value of ``subject_field``."""
        return str(getattr(self, type(self).subject_field))

    def to_dict(self) -> dict[str, Any]:
        """The wire form as plain JSON values (amounts as text, tuples as lists)."""
        data: dict[str, Any] = msgspec.json.decode(_ENCODER.encode(self))
        return data


def check_contract(cls: type[Contract]) -> type[Contract]:
    """``cls`` when it is a concrete contract (a :class:`Contract` subclass with its routing
    set); raises :class:`~events.errors.ContractDefinitionError` naming what is missing."""
    if not (isinstance(cls, type) and issubclass(cls, Contract)):
        raise ContractDefinitionError(repr(cls), "not a subclass of events.structs.Contract")
    missing = [name for name in _ROUTING if not hasattr(cls, name)]
    if missing:
        raise ContractDefinitionError(cls.__qualname__, f"class variables not set: {missing}")
    if not isinstance(cls.version, int) or isinstance(cls.version, bool) or cls.version < 1:
        raise ContractDefinitionError(cls.__qualname__, f"version {cls.version!r} is not >= 1")
    if cls.subject_field not in cls.__struct_fields__:
        raise ContractDefinitionError(
            cls.__qualname__, f"subject_field {cls.subject_field!r} is not one of its fields"
        )
    return cls


def encode(contract: Contract) -> bytes:
    """The contract's data as compact JSON bytes (the outbox payload)."""
    return _ENCODER.encode(contract)


def decode(cls: type[C], data: bytes | str | Mapping[str, Any]) -> C:
    """An instance of ``cls`` from JSON bytes/text or decoded JSON values; raises
    :class:`~events.errors.ContractDecodeError` (one line: type, path, reason)."""
    try:
        if isinstance(data, bytes | str):
            return msgspec.json.decode(data, type=cls)
        return msgspec.convert(data, cls)
    except msgspec.ValidationError as exc:
        raise ContractDecodeError(cls.type, str(exc), data) from None
    except msgspec.DecodeError as exc:
        raise ContractDecodeError(cls.type, f"not JSON: {exc}", data) from None


def contract_schema(cls: type[Contract]) -> dict[str, Any]:
    """The JSON Schema (2020-12) of ``cls``'s current version: msgspec's schema with nested
    structs inlined, named ``<type> v<version>``, described by the class docstring."""
    check_contract(cls)
    (ref,), defs = msgspec.json.schema_components([cls], ref_template="#/$defs/{name}")
    body = _inline(ref, defs, ())
    body.pop("title", None)
    description = body.pop("description", None)
    head: dict[str, Any] = {
        "$schema": DRAFT_2020_12,
        "$id": schema_uri(cls.type, cls.version),
        "title": f"{cls.type} v{cls.version}",
    }
    if description:
        head["description"] = " ".join(str(description).split())
    return {**head, **body}


def schema_files(
    contracts: Iterable[type[Contract]], existing: Iterable[str] = ()
) -> dict[str, str]:
    """``{<type>.v<N>.json: text}`` for each contract's current version (two-space indent, a
    final newline). ``existing`` names the files already in the directory: a struct whose
    version is older than one of them raises :class:`ContractDefinitionError` (the generator
    never rewrites an older version), as do two structs claiming one type."""
    newest: dict[str, int] = {}
    for name in existing:
        match = SCHEMA_FILE.match(name)
        if match:
            version = int(match["version"])
            newest[match["type"]] = max(version, newest.get(match["type"], version))
    out: dict[str, str] = {}
    seen: dict[str, str] = {}
    for cls in contracts:
        check_contract(cls)
        if cls.type in seen:
            raise ContractDefinitionError(
                cls.__qualname__, f"type {cls.type!r} is also {seen[cls.type]}"
            )
        if newest.get(cls.type, 0) > cls.version:
            raise ContractDefinitionError(
                cls.__qualname__,
                f"version {cls.version} is older than {file_name(cls.type, newest[cls.type])}",
            )
        seen[cls.type] = cls.__qualname__
        text = json.dumps(contract_schema(cls), indent=2, ensure_ascii=False)
        out[file_name(cls.type, cls.version)] = text + "\n"
    return out


def _inline(node: Any, defs: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    """``node`` with every local ``$ref`` replaced by its definition (contracts are trees:
    a recursive struct raises :class:`ContractDefinitionError`) and the JSON type of a
    ``Literal``'s values stated beside its ``enum``."""
    if isinstance(node, list):
        return [_inline(item, defs, path) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        name = ref.removeprefix("#/$defs/")
        if name in path:
            raise ContractDefinitionError(name, "recursive structs cannot be inlined")
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        return {**_inline(defs[name], defs, (*path, name)), **siblings}
    out = {key: _inline(value, defs, path) for key, value in node.items()}
    enum = out.get("enum")
    if isinstance(enum, list) and "type" not in out and enum:
        kinds = {_JSON_TYPES.get(type(v)) for v in enum}
        if len(kinds) == 1 and None not in kinds:
            out = {"type": kinds.pop(), **out}  # msgspec leaves a Literal's type implicit
    return out

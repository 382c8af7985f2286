"""An index request, validated before it reaches the server, and its comparison with existing ones.

Kinds: single and compound (1 / -1), text, 2dsphere, hashed; options: unique, sparse, partial
(``partial_filter``), TTL (``expire_after_seconds``), hidden, and the text options. The rules
checked here are the ones MongoDB documents (a TTL index has one ascending or descending key;
hashed and text indexes cannot be unique; sparse and partial do not mix; one hashed key at most),
so a bad request fails naming its field instead of as a server error. What only the data can
decide (duplicates under ``unique``, malformed GeoJSON) is still the server's to say.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from pymongo import IndexModel

from .errors import InvalidArgumentError
from .esr import IndexInfo, Key, index_name
from .inputs import parse_bool, parse_filter

__all__ = ["CREATE_INDEX_PROPERTIES", "KINDS", "IndexRequest", "parse_index_request"]

DIRECTIONS: Final = (1, -1)
SPECIAL_KINDS: Final = ("text", "2dsphere", "hashed")
KINDS: Final = (*DIRECTIONS, *SPECIAL_KINDS)
MAX_KEYS: Final = 32
MAX_TTL_SECONDS: Final = 2_147_483_647
MAX_TEXT_WEIGHT: Final = 99_999
MAX_NAME_CHARS: Final = 127
TEXT_DEFAULTS: Final[dict[str, Any]] = {
    "default_language": "english",
    "language_override": "language",
}
# Server options compared when deciding that an existing index is the requested one.
COMPARED_OPTIONS: Final = (
    "unique", "sparse", "partialFilterExpression", "expireAfterSeconds", "weights",
    "default_language", "language_override", "hidden",
)  # fmt: skip

_KIND_SCHEMA: Final = {"enum": list(KINDS)}
CREATE_INDEX_PROPERTIES: Final[dict[str, Any]] = {
    "keys": {
        "description": 'Index keys in order: {"status": 1, "created_at": -1} or '
        '[["status", 1], ["created_at", -1]]; kinds 1, -1, "text", "2dsphere", "hashed".',
        "anyOf": [
            {"type": "object", "minProperties": 1, "maxProperties": MAX_KEYS,
             "additionalProperties": _KIND_SCHEMA},
            {"type": "array", "minItems": 1, "maxItems": MAX_KEYS,
             "items": {"type": "array", "minItems": 2, "maxItems": 2,
                       "prefixItems": [{"type": "string", "minLength": 1}, _KIND_SCHEMA]}},
        ],
    },
    "name": {"type": "string", "minLength": 1, "maxLength": MAX_NAME_CHARS,
             "description": "Index name; default field_kind_field_kind as MongoDB names it."},
    "unique": {"type": "boolean", "description": "Reject documents that repeat the key."},
    "sparse": {"type": "boolean", "description": "Skip documents without the indexed fields."},
    "partial_filter": {"type": "object", "description": "partialFilterExpression: index only "
                       "documents matching this filter (Extended JSON)."},
    "expire_after_seconds": {"type": "integer", "minimum": 0, "maximum": MAX_TTL_SECONDS,
                             "description": "TTL: delete documents this long after the date "
                             "in the (single) indexed field."},
    "hidden": {"type": "boolean", "description": "Build it hidden from the query planner."},
    "weights": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 1,
                "maximum": MAX_TEXT_WEIGHT}, "description": "Text index: weight per text field."},
    "default_language": {"type": "string", "minLength": 1,
                         "description": "Text index: stemming language (default english)."},
    "language_override": {"type": "string", "minLength": 1,
                          "description": "Text index: field naming a document's language."},
}  # fmt: skip


@dataclass(frozen=True)
class IndexRequest:
    keys: Key
    # Keyword options for pymongo's IndexModel, in the server's own spelling.
    options: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.options.get("name") or index_name(self.keys))

    @property
    def kinds(self) -> list[str]:
        kinds = ["compound" if len(self.keys) > 1 else "single"]
        kinds += [k for k in SPECIAL_KINDS if any(kind == k for _, kind in self.keys)]
        labels = {"unique": "unique", "sparse": "sparse", "partialFilterExpression": "partial",
                  "expireAfterSeconds": "ttl", "hidden": "hidden"}  # fmt: skip
        kinds += [label for option, label in labels.items() if option in self.options]
        return kinds

    def model(self) -> IndexModel:
        return IndexModel(list(self.keys), **self.options)

    def equivalent_to(self, existing: IndexInfo) -> bool:
        """Same keys (text fields as a set, as the server stores them) and same options."""
        if not _same_keys(self.keys, existing.key):
            return False
        have = _set_options(existing.options)
        if self._is_text:
            for option, default in TEXT_DEFAULTS.items():
                have.setdefault(option, default)
        return self._comparable_options() == have

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "keys": [[f, k] for f, k in self.keys], "kinds": self.kinds}

    @property
    def _is_text(self) -> bool:
        return any(kind == "text" for _, kind in self.keys)

    def _comparable_options(self) -> dict[str, Any]:
        wanted = _set_options(self.options)
        if self._is_text:
            weights = dict.fromkeys((f for f, kind in self.keys if kind == "text"), 1)
            weights.update(self.options.get("weights") or {})
            wanted["weights"] = weights
            for option, default in TEXT_DEFAULTS.items():
                wanted[option] = self.options.get(option, default)
        return wanted


def _set_options(options: dict[str, Any]) -> dict[str, Any]:
    """The compared options that are set: False and absent mean the same to the server."""
    return {k: options[k] for k in COMPARED_OPTIONS if options.get(k) not in (None, False)}


def parse_index_request(params: dict[str, Any]) -> IndexRequest:
    keys = _parse_keys(params.get("keys"))
    options: dict[str, Any] = {}
    text_fields = [f for f, kind in keys if kind == "text"]
    hashed = [f for f, kind in keys if kind == "hashed"]
    if len(hashed) > 1:
        raise InvalidArgumentError(
            "keys", f"has {len(hashed)} hashed keys ({', '.join(hashed)})", "keep one hashed key"
        )
    if "name" in params:
        options["name"] = _parse_name(params["name"])
    if parse_bool(params, "unique", False):
        special = [kind for _, kind in keys if kind in ("hashed", "text")]
        if special:
            raise InvalidArgumentError(
                "unique",
                f"a {special[0]} index cannot enforce uniqueness",
                "use an ascending (1) or descending (-1) key for a unique index",
            )
        options["unique"] = True
    sparse = parse_bool(params, "sparse", False)
    if sparse:
        options["sparse"] = True
    if "partial_filter" in params:
        if sparse:
            raise InvalidArgumentError(
                "sparse",
                "cannot be combined with partial_filter",
                'express it in the filter: {"field": {"$exists": true}}',
            )
        partial = parse_filter(params["partial_filter"], "partial_filter")
        if not partial:
            raise InvalidArgumentError(
                "partial_filter", "is empty", "give a filter or leave it out"
            )
        options["partialFilterExpression"] = partial
    if "expire_after_seconds" in params:
        options["expireAfterSeconds"] = _parse_ttl(params["expire_after_seconds"], keys)
    if parse_bool(params, "hidden", False):
        options["hidden"] = True
    for key in ("weights", "default_language", "language_override"):
        if key in params and not text_fields:
            raise InvalidArgumentError(key, "applies to text indexes only", 'add a "text" key')
    if "weights" in params:
        options["weights"] = _parse_weights(params["weights"], text_fields)
    for key in ("default_language", "language_override"):
        if key in params:
            value = params[key]
            if not isinstance(value, str) or not value:
                raise InvalidArgumentError(key, "must be a non-empty string")
            options[key] = value
    return IndexRequest(keys=keys, options=options)


def _parse_keys(value: Any) -> Key:
    if value is None:
        raise InvalidArgumentError(
            "keys", "is required", 'pass e.g. {"status": 1, "created_at": -1}'
        )
    if isinstance(value, dict):
        pairs = list(value.items())
    elif isinstance(value, list):
        pairs = []
        for index, item in enumerate(value):
            if not isinstance(item, list | tuple) or len(item) != 2:
                raise InvalidArgumentError(
                    f"keys[{index}]", 'must be a [field, kind] pair such as ["status", 1]'
                )
            pairs.append((item[0], item[1]))
    else:
        raise InvalidArgumentError(
            "keys", f"must be an object or a list of pairs, got {type(value).__name__}"
        )
    if not pairs:
        raise InvalidArgumentError("keys", "is empty", 'name at least one field: {"status": 1}')
    if len(pairs) > MAX_KEYS:
        raise InvalidArgumentError(
            "keys", f"has {len(pairs)} fields", f"an index holds at most {MAX_KEYS}"
        )
    seen: set[str] = set()
    for field_name, kind in pairs:
        where = f"keys.{field_name}"
        if not isinstance(field_name, str) or not field_name:
            raise InvalidArgumentError("keys", f"field {field_name!r} is not a non-empty string")
        if field_name.startswith("$") or "" in field_name.split(".") or "\x00" in field_name:
            raise InvalidArgumentError(
                where, "is not a field path", "write a path such as customer.id"
            )
        if field_name in seen:
            raise InvalidArgumentError(where, "appears twice", "list each field once")
        seen.add(field_name)
        if isinstance(kind, bool) or kind not in KINDS:
            raise InvalidArgumentError(
                where, f"has kind {kind!r}", f"use one of {', '.join(map(repr, KINDS))}"
            )
    return tuple((str(f), k) for f, k in pairs)


def _parse_name(value: Any) -> str:
    if not isinstance(value, str) or not value or value == "*" or "\x00" in value:
        raise InvalidArgumentError(
            "name", f"{value!r} is not a usable index name", "use letters, digits and _"
        )
    if len(value) > MAX_NAME_CHARS:
        raise InvalidArgumentError(
            "name", f"is {len(value)} characters", f"use at most {MAX_NAME_CHARS}"
        )
    return value


def _parse_ttl(value: Any, keys: Key) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_TTL_SECONDS:
        raise InvalidArgumentError(
            "expire_after_seconds",
            f"must be a whole number of seconds 0-{MAX_TTL_SECONDS}, got {value!r}",
        )
    if len(keys) != 1 or keys[0][1] not in DIRECTIONS:
        raise InvalidArgumentError(
            "expire_after_seconds",
            "needs exactly one ascending or descending key (TTL indexes are single-field)",
            'use keys like {"created_at": 1}',
        )
    if keys[0][0] == "_id":
        raise InvalidArgumentError(
            "expire_after_seconds", "cannot apply to _id", "index a date field"
        )
    return value


def _parse_weights(value: Any, text_fields: list[str]) -> dict[str, int]:
    if not isinstance(value, dict) or not value:
        raise InvalidArgumentError("weights", 'must be an object such as {"title": 10}')
    weights: dict[str, int] = {}
    for name, weight in value.items():
        if name not in text_fields:
            raise InvalidArgumentError(
                f"weights.{name}",
                "is not a text key of this index",
                f"weight one of {', '.join(text_fields)}",
            )
        if (
            isinstance(weight, bool)
            or not isinstance(weight, int)
            or not 1 <= weight <= MAX_TEXT_WEIGHT
        ):
            raise InvalidArgumentError(
                f"weights.{name}", f"must be a whole number 1-{MAX_TEXT_WEIGHT}"
            )
        weights[name] = weight
    return weights


def _same_keys(requested: Key, existing: Key) -> bool:
    def split(key: Key) -> tuple[list[tuple[str, Any]], set[str]]:
        return [(f, k) for f, k in key if k != "text"], {f for f, k in key if k == "text"}

    wanted, wanted_text = split(requested)
    have, have_text = split(existing)
    return wanted_text == have_text and [(f, _normal(k)) for f, k in wanted] == [
        (f, _normal(k)) for f, k in have
    ]


def _normal(kind: Any) -> Any:
    """Servers may report 1.0 for 1; compare the meaning, not the number type."""
    if isinstance(kind, float) and kind.is_integer():
        return int(kind)
    return kind

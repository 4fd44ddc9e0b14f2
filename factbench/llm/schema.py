"""Per-call JSON schemas: a template's schema with the number of list entries one call expects.

A judge template's schema fixes the shape of an answer (`{"claims": [[...], ...]}`,
`{"labels": "SUN"}`); how many entries its list (or letters its string) must have is known only
per call (the sentences or claims in that call). Telling a grammar-constrained server that number
(`minItems` = `maxItems` = N on the schema's one list) keeps a small model from closing the
list early: a list of the wrong length cannot be aligned and is a parse failure anyway, so the
constraint removes a failure mode without changing what a well-formed answer can say (a sentence
may still get an empty claim list). The schema is derived deterministically from the template's,
so the template hash stays the same; the setting is part of the role's identity (RoleSpec.identity),
so constrained and unconstrained outputs never share a cache entry or a run.

The keywords are not accepted everywhere, so a role asks for them explicitly
(`--schema-item-counts`, RoleSpec.schema_item_counts); by default the template's schema is sent
as it is. Known to enforce them: llama.cpp's json-schema-to-grammar (the demo's server) and vLLM
with xgrammar 0.1.19 or later. Known to refuse them: older vLLM V1 (400, "features not supported
by xgrammar"), OpenAI strict mode for fine-tuned models (base models accept them since 2025),
Groq, and Anthropic for counts above 1. Such a server fails the call (a bad request), which is
why the counts are asked for, never assumed.
"""

from __future__ import annotations

from typing import Any


def with_item_count(schema: dict[str, Any], n: int) -> dict[str, Any]:
    """`schema` with its one top-level list property fixed to exactly `n` entries (a new dict); a
    schema whose answer is one string of letters (`"pattern": "^[SUN]*$"`, the verification
    labels) gets exactly `n` letters instead."""
    properties = schema.get("properties") or {}
    lists = [key for key, prop in properties.items() if isinstance(prop, dict) and prop.get("type") == "array"]
    letters = [key for key, prop in properties.items() if isinstance(prop, dict) and prop.get("type") == "string"
               and str(prop.get("pattern", "")).endswith("]*$")]
    if len(lists) == 1:
        key = lists[0]
        return {**schema, "properties": {**properties, key: {**properties[key], "minItems": n, "maxItems": n}}}
    if not lists and len(letters) == 1:
        key = letters[0]
        pattern = properties[key]["pattern"][:-len("*$")] + f"{{{n}}}$"
        return {**schema, "properties": {**properties, key: {**properties[key], "pattern": pattern}}}
    raise ValueError(f"an item count needs a schema with exactly one top-level list property, found {lists}")

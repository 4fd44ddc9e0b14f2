"""A judge: a named, versioned (template, parser, role).

The judge's *name* is what a user picks (`--judges NAME`, `factbench list judges`); its
*id* (template name, version and content hash) is what keys caches and results, so editing
a template's text can never be mistaken for the old judge. The model that runs a judge is
chosen separately (a role's RoleSpec); where it is served is provenance, not identity.

A judge's role is one a registered stage declares (factbench/stages/registry.py); the
registry refuses a judge for a role no stage calls. Parser contract per role (what the stage
that uses the judge calls; a plug-in stage defines its own role's):
- extractor:  parse(text, expected_sentence_ids) -> ({sentence id: [claim, ...]}, [error kind, ...])
- verifier:   parse(text, n_claims, mode) -> ([label or None, ...], [error kind or None, ...])
- relevance:  parse(text) -> "A" | "B" | "tie" (raises ParseError)
- weighting:  parse(text, claim_ids) -> ([class or None, ...], [restated claim id or None, ...], [error kind or None, ...])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from factbench.judges.templates import JudgeTemplate


@dataclass(frozen=True)
class Judge:
    name: str
    role: str
    template: JudgeTemplate
    parse: Callable[..., Any]
    description: str = ""
    mode: str | None = None  # verifier label set: "ternary" or "binary"
    knowledge_template: JudgeTemplate | None = None  # verifier: used when the evidence backend gives none

    def template_for(self, uses_evidence: bool = True) -> JudgeTemplate:
        if not uses_evidence and self.knowledge_template is not None:
            return self.knowledge_template
        return self.template

    @property
    def id(self) -> str:
        return self.template.id

    def describe(self) -> dict[str, Any]:
        ids = [self.template.id] + ([self.knowledge_template.id] if self.knowledge_template else [])
        return {"name": self.name, "role": self.role, "templates": ids, "mode": self.mode,
                "description": self.description}

"""A judge: a named, versioned (template, parser, role).

The judge's *name* is what a user picks (`--judges NAME`, `factbench list judges`); its
*id* (template name, version and content hash) is what keys caches and results, so editing
a template's text can never be mistaken for the old judge. The model that runs a judge is
chosen separately (a role's RoleSpec); where it is served is provenance, not identity.

A judge owns its prompt and its parser. Its role is one a registered stage declares
(factbench/stages/registry.py); the pipeline refuses a judge for a role no stage calls. The
protocols below are what the built-in roles' stages call (a plug-in stage defines its own
role's). `messages` builds the prompt from the judge's template (the one for the task's
evidence setting); a judge without its own `messages` gets its role's built-in layout, with its
own template's text. `parser_version` is part of the id: a changed parser is a new judge.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from factbench.judges.templates import JudgeTemplate

Messages = list[dict[str, str]]
ItemErrors = list[str | None]


class ExtractorParse(Protocol):
    def __call__(self, text: str, sentence_ids: list[int], /) -> tuple[dict[int, list[str]], list[str]]:
        """Claims per numbered sentence, and error kinds."""


class VerifierParse(Protocol):
    def __call__(self, text: str, n_claims: int, mode: str, /) -> tuple[list[str | None], ItemErrors]:
        """A label (or None) per claim, and an error kind (or None) per claim."""


class InformativenessParse(Protocol):
    def __call__(self, text: str, claim_ids: list[int], /) -> tuple[list[str | None], list[int | None], ItemErrors]:
        """A class (or None), the claim it restates (or None) and an error kind (or None) per claim."""


class RelevanceParse(Protocol):
    def __call__(self, text: str, /) -> str:
        """"A", "B" or "tie"; raises ParseError."""


class ExtractorMessages(Protocol):
    def __call__(self, question: str, before: list[str], numbered: list[tuple[int, str]], after: list[str],
                 template: JudgeTemplate, /) -> Messages: ...


class VerifierMessages(Protocol):
    """`refs` (each claim's own entries of `passages`, 1-based) and `numbers` (the claims' places in
    the answer) are passed only to a function that declares them (or **kwargs)."""

    def __call__(self, template: JudgeTemplate, passages: list[tuple[str, str]], claims: list[str],
                 question: str = "", first: int = 1, passages_first: bool = False,
                 refs: list[list[int]] | None = None, numbers: list[int] | None = None) -> Messages: ...


class InformativenessMessages(Protocol):
    def __call__(self, template: JudgeTemplate, question: str, numbered: list[tuple[int, str]],
                 earlier: list[tuple[int, str]], /) -> Messages: ...


class RelevanceMessages(Protocol):
    def __call__(self, question: str, response_a: str, response_b: str, template: JudgeTemplate, /) -> Messages: ...


@dataclass(frozen=True)
class Judge:
    name: str
    role: str
    template: JudgeTemplate
    parse: Callable[..., Any]
    description: str = ""
    mode: str | None = None  # verifier label set: "ternary" or "binary"
    knowledge_template: JudgeTemplate | None = None  # verifier: used when the evidence backend gives none
    messages: Callable[..., Messages] | None = None  # its prompt; None: the role's built-in layout
    parser_version: str = "1"

    def template_for(self, uses_evidence: bool = True) -> JudgeTemplate:
        if not uses_evidence and self.knowledge_template is not None:
            return self.knowledge_template
        return self.template

    def id_for(self, uses_evidence: bool = True) -> str:
        """The identity of the judge as a task uses it: its template's id, and its parser version
        when that is not the first."""
        suffix = f"+parser{self.parser_version}" if self.parser_version != "1" else ""
        return self.template_for(uses_evidence).id + suffix

    @property
    def id(self) -> str:
        return self.id_for(True)

    def describe(self) -> dict[str, Any]:
        ids = [self.template.id] + ([self.knowledge_template.id] if self.knowledge_template else [])
        return {"name": self.name, "role": self.role, "templates": ids, "mode": self.mode,
                "description": self.description}

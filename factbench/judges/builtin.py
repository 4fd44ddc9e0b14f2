"""The built-in judges, registered under the `factbench.judges` entry-point group."""

from __future__ import annotations

from factbench.judges.judge import Judge
from factbench.judges.parsing import parse_sentence_claims, parse_verdicts, parse_winner
from factbench.judges.templates import EXTRACT, RELEVANCE, verify_template

CLAIMS = Judge(
    name="claims", role="extractor", template=EXTRACT, parse=parse_sentence_claims, parser_version="2",
    description="verifiable, decontextualised claims per numbered sentence (chunked calls)")
VERIFY_TERNARY = Judge(
    name="verify-ternary", role="verifier", mode="ternary", parse=parse_verdicts, parser_version="2",
    template=verify_template("ternary", True), knowledge_template=verify_template("ternary", False),
    description="supported / unsupported / unverifiable against excerpts of each claim's own passages "
                "(or own knowledge)")
VERIFY_BINARY = Judge(
    name="verify-binary", role="verifier", mode="binary", parse=parse_verdicts, parser_version="2",
    template=verify_template("binary", True), knowledge_template=verify_template("binary", False),
    description="supported / unsupported against excerpts of each claim's own passages (or own knowledge)")
RELEVANCE_PAIRWISE = Judge(
    name="relevance-pairwise", role="relevance", template=RELEVANCE, parse=parse_winner,
    description="pairwise comparison with a reference answer, asked in both orders")

JUDGES = (CLAIMS, VERIFY_TERNARY, VERIFY_BINARY, RELEVANCE_PAIRWISE)

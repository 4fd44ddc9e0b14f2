"""Bad input: clear errors naming file and line, per-sample records, never a traceback."""

from __future__ import annotations

import json
import string

from conftest import role_args, write_longfact_fixture
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from factbench.cli.main import main
from factbench.scoring.human_labels import labelled_records
from factbench.stages.claims import MAX_SENTENCES
from factbench.stages.generate import load_responses
from factbench.store.jsonl import InputFileError, read_jsonl
from factbench.testing.scripted_server import Fault, request_kind

_lines = st.lists(st.one_of(
    st.text(alphabet=string.printable, max_size=80),
    st.dictionaries(st.sampled_from(["id", "task", "response", "reasoning", "answer", "x"]),
                    st.one_of(st.none(), st.integers(), st.text(max_size=20), st.lists(st.integers(), max_size=2)),
                    max_size=5).map(json.dumps),
), max_size=8)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=_lines, junk=st.binary(max_size=20))
def test_responses_reader_fuzz(tmp_path, lines, junk):
    path = tmp_path / "r.jsonl"
    path.write_bytes("\n".join(lines).encode() + b"\n" + junk)
    try:
        rows, digest = load_responses(path, ["longfact-objects"])
    except InputFileError as exc:
        assert str(path) in str(exc)
    else:
        assert all(isinstance(r["text"], str) for r in rows.values()) and len(digest) == 16


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=_lines)
def test_labels_reader_fuzz(tmp_path, lines):
    path = tmp_path / "l.jsonl"
    path.write_text("\n".join(lines) + "\n")
    try:
        labelled_records(path)
    except InputFileError as exc:
        assert str(path) in str(exc)


def test_invalid_utf8_names_the_line(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_bytes(b'{"id": "a", "response": "ok"}\n{"id": "b", "response": "\xff\xfe"}\n')
    try:
        list(read_jsonl(path))
    except InputFileError as exc:
        assert f"{path}:2: not valid UTF-8" in str(exc)
    else:
        raise AssertionError("expected InputFileError")


def test_duplicate_ids_are_refused(tmp_path, capsys, server):
    data = write_longfact_fixture(tmp_path / "data", n_topics=1, per_topic=2)
    path = tmp_path / "r.jsonl"
    path.write_text('{"id": "topic0-00", "response": "a"}\n{"id": "topic0-00", "response": "b"}\n')
    rc = main(["run", "--tasks", "longfact-objects", "--responses", str(path), "--data-dir", str(data),
               "--results-dir", str(tmp_path)] + role_args(server.base_url, model=False))
    assert rc == 2 and "duplicate response" in capsys.readouterr().err


def test_empty_and_huge_answers_and_missing_responses(tmp_path, server):
    data = write_longfact_fixture(tmp_path / "data", n_topics=1, per_topic=3)
    huge = " ".join(f"Object {i} is documented in source {i} of the archives." for i in range(10_000))
    assert len(huge.split()) == 100_000
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps({"id": "topic0-00", "response": ""}) + "\n" +
                    json.dumps({"id": "topic0-01", "response": huge}) + "\n")
    rc = main(["run", "--tasks", "longfact-objects", "--responses", str(path), "--data-dir", str(data),
               "--results-dir", str(tmp_path), "--run-id", "x", "--fail-on-error", "1"]
              + role_args(server.base_url, model=False))
    assert rc == 0  # one failed sample (no response) is within --fail-on-error 1
    claims = {json.loads(x)["id"]: json.loads(x) for x in (tmp_path / "x" / "claims.jsonl").read_text().splitlines()}
    assert claims["topic0-00"]["claims"] == [] and not claims["topic0-00"]["abstained"]
    assert len(claims["topic0-01"]["sentences"]) == MAX_SENTENCES
    assert "answer_truncated" in claims["topic0-01"]["errors"]
    summary = json.loads((tmp_path / "x" / "summary.json").read_text())
    assert summary["errors"]["stage_failures"] == {"answers": {"no_response": 1}}


def test_judge_answering_for_the_wrong_number_of_claims(tmp_path, server):
    data = write_longfact_fixture(tmp_path / "data", n_topics=1, per_topic=1)
    server.state.faults = [Fault('text:{"verdicts": [{"id": 1, "label": "supported"}, {"id": 2, "label": "maybe"}]}',
                                 when=lambda b: request_kind(b) == "verify")]
    assert main(["run", "--tasks", "longfact-objects", "--data-dir", str(data), "--results-dir", str(tmp_path),
                 "--run-id", "w", "--fail-on-error", "1"] + role_args(server.base_url)) == 0
    verdicts = json.loads((tmp_path / "w" / "verdicts.jsonl").read_text())
    assert verdicts["labels"][0] == "supported" and verdicts["labels"][1] is None
    assert verdicts["errors"][1] == "unknown_label" and set(verdicts["errors"][2:]) == {"missing_label"}
    summary = json.loads((tmp_path / "w" / "summary.json").read_text())
    assert summary["overall"]["labels"]["supported"] == 1 and summary["overall"]["judge_errors"] == 5


def test_truncated_judge_output_is_counted_as_such(tmp_path, server):
    data = write_longfact_fixture(tmp_path / "data", n_topics=1, per_topic=1)
    server.state.faults = [Fault('length:{"verdicts": [{"id": 1, "label": "supported"}, {"id": 2, "la',
                                 when=lambda b: request_kind(b) == "verify")]
    assert main(["run", "--tasks", "longfact-objects", "--data-dir", str(data), "--results-dir", str(tmp_path),
                 "--run-id", "t", "--fail-on-error", "1"] + role_args(server.base_url)) == 0
    verdicts = json.loads((tmp_path / "t" / "verdicts.jsonl").read_text())
    assert verdicts["labels"][0] == "supported" and verdicts["labels"][1:] == [None] * (len(verdicts["labels"]) - 1)
    assert set(verdicts["errors"][1:]) == {"truncated_output"}


def test_rate_limit_without_retry_after_and_connection_reset(tmp_path, server):
    data = write_longfact_fixture(tmp_path / "data", n_topics=1, per_topic=2)
    server.state.faults = [Fault("status:429", times=2), Fault("close", times=2)]
    assert main(["run", "--tasks", "longfact-objects", "--data-dir", str(data), "--results-dir", str(tmp_path),
                 "--run-id", "n"] + role_args(server.base_url)) == 0
    summary = json.loads((tmp_path / "n" / "summary.json").read_text())
    errors = {k: v for role in summary["calls"].values() for k, v in role["errors"].items()}
    assert errors.get("rate_limit") == 2
    assert errors.get("connection", 0) + errors.get("server_error", 0) == 2
    assert summary["errors"]["failed_samples"] == 0

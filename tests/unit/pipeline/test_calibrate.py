import json

import pytest

from factbench.cli.main import main
from factbench.pipeline.calibrate import cohens_kappa


def test_kappa_by_hand():
    a = [True, True, False, False]
    b = [True, False, False, False]
    # observed 3/4; expected = 0.5*0.25 + 0.5*0.75 = 0.5 -> (0.75 - 0.5) / 0.5 = 0.5
    assert cohens_kappa(a, b) == pytest.approx(0.5)
    assert cohens_kappa([], []) is None


def test_calibrate_against_scripted_judge(tmp_path, server, capsys):
    # The scripted judge calls a claim with "Atlantis" unsupported and everything else supported.
    rows = [
        {"input": "Question: Tell me a bio of A.", "output": "...", "topic": "A", "annotations": [
            {"text": "s", "is-relevant": True, "human-atomic-facts": [
                {"text": "A was born in Paris.", "label": "S"},
                {"text": "A lived in Atlantis.", "label": "NS"},
                {"text": "A wrote two books.", "label": "NS"}]}]},
        {"input": "Question: Tell me a bio of B.", "output": "...", "topic": "B", "annotations": [
            {"text": "s", "is-relevant": True, "human-atomic-facts": [
                {"text": "B is a painter.", "label": "S"},
                {"text": "B visited Atlantis.", "label": "S"}]}]},
        {"input": "Question: Tell me a bio of C.", "output": "...", "topic": "C", "annotations": None},
    ]
    path = tmp_path / "labels.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["calibrate", "--labels", str(path), "--judge", "openai/j", "--judge-base-url", server.base_url,
                 "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    # human S: T F F | T T ; judge S: T F T | T F  -> agreement 3/5
    assert result["answers"] == 2 and result["claims_compared"] == 5
    assert result["agreement"] == pytest.approx(3 / 5)
    # judge precision: (2/3 + 1/2)/2 = 58.33; human: (1/3 + 2/2)/2 = 66.67
    assert result["judge_precision"] == pytest.approx(100 * (2 / 3 + 1 / 2) / 2)
    assert result["aggregate_error"] == pytest.approx(100 * ((2 / 3 + 1 / 2) - (1 / 3 + 1)) / 2)
    assert result["cohens_kappa"] == pytest.approx(cohens_kappa([True, False, False, True, True],
                                                                [True, False, True, True, False]))

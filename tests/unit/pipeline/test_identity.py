from factbench.llm.client import RoleSpec
from factbench.pipeline.identity import _fingerprint, diff, with_served_models


def test_endpoints_are_provenance_even_inside_old_identities():
    old = {"judges": {"verifier": {"model": "openai/j", "endpoints": ["http://a:1/v1"], "params": {"t": 0}}}}
    new = {"judges": {"verifier": {"model": "openai/j", "params": {"t": 0}}}}
    assert diff(old, new) == []
    assert diff(old, {"judges": {"verifier": {"model": "openai/k", "params": {"t": 0}}}}) == [
        "judges.verifier.model: 'openai/j' -> 'openai/k'"]


def test_served_model_is_compared_only_when_both_sides_know_it():
    a = {"verifier": {"model": "openai/j", "served_model": "/weights/a"}}
    assert diff(a, {"verifier": {"model": "openai/j"}}) == []
    assert diff({"verifier": {"model": "openai/j"}}, a) == []
    assert diff(a, {"verifier": {"model": "openai/j", "served_model": "/weights/b"}}) == [
        "verifier.served_model: '/weights/a' -> '/weights/b'"]


def test_fingerprint_prefers_the_root_of_the_entry_serving_the_model():
    listed = [{"id": "judge", "root": "/models/llama-70b-ckpt3"}, {"id": "other", "root": "/m/o"}]
    assert _fingerprint(listed, "openai/judge") == "/models/llama-70b-ckpt3"
    assert _fingerprint([{"id": "scripted"}], "openai/judge") == "scripted"  # one model: that one
    assert _fingerprint(listed, "openai/unknown") is None  # ambiguous: unknown, never a guess
    assert _fingerprint([], "openai/judge") is None


def test_an_unreachable_server_leaves_the_fingerprint_unknown():
    spec = RoleSpec(role="verifier", model="openai/j", base_urls=("http://127.0.0.1:9/v1",))
    assert with_served_models({"verifier": spec})["verifier"].served_model is None
    api = RoleSpec(role="verifier", model="openai/gpt-4o-mini")
    assert with_served_models({"verifier": api})["verifier"] is api  # provider APIs are not asked

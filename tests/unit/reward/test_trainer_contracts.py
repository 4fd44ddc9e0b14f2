"""Each trainer's call site as it is in the release named here, reproduced without the trainer installed.

- TRL 1.16.0: `GRPOTrainer._calculate_rewards` (trl/trainer/grpo_trainer.py:1579-1662) and
  `is_async_callable` (trl/trainer/utils.py:247-258).
- verl 0.9.1: `get_custom_reward_fn` (verl/trainer/ppo/reward.py:50-86, `load_module` for `pkg://` paths in
  verl/utils/import_utils.py:151-172), `NaiveRewardManager` (verl/experimental/reward_loop/reward_manager/
  naive.py: `inspect.iscoroutinefunction` in __init__, the per-sample call in run_single) and
  `RemoteRewardManager` (reward_manager/remote.py: asserts a sync function and ships it to Ray actors,
  which pickle it with cloudpickle).
- OpenRLHF 0.11.2: `SingleTurnAgentExecutor` (openrlhf/utils/agent.py:287-356: one query per POST,
  `query = decode(prompt_ids + response_ids, skip_special_tokens=False)`) and
  `_process_response_into_experience` (trainer/ppo_utils/samples_generator.py:288-292: every
  extra_logs value becomes a tensor).
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import importlib.util
import inspect
import json
import math
import os
import pickle
import subprocess
import sys
import threading
from collections import defaultdict
from pathlib import Path

import aiohttp
import cloudpickle
import pytest
from aiohttp import web

import factbench.reward.verl as verl_module
from factbench.reward import AsyncTRLReward, Scorer, TRLReward, VerlReward
from factbench.serving.judge_server import free_port
from factbench.serving.reward_server import build_app
from factbench.testing.scripted_server import Fault, request_kind

GOOD = "The harbour of Lyon is documented in source 1. The museum of Lyon is documented in source 2."
MIXED = "The harbour of Lyon is documented in source 1. Records from Atlantis mention the harbour."
QUESTION = "Tell me about the harbour of Lyon."


@pytest.fixture
def scorer(server):
    with Scorer(judge="openai/judge", judge_base_url=server.base_url, use_cache=False) as s:
        yield s


# ----------------------------------------------------------------------------------------------- TRL 1.16.0
def _is_async_callable(func) -> bool:  # trl/trainer/utils.py:247-258
    while isinstance(func, functools.partial):
        func = func.func
    return inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(func.__call__)


def _calculate_rewards(reward_funcs, inputs, prompts, completions, completion_ids, async_loop, pending_metrics,
                       pending_extra):
    """trl/trainer/grpo_trainer.py:1579-1662 without torch: a column of floats per reward function."""
    keys = [key for key in inputs[0] if key not in ["prompt", "completion", "completion_ids"]]
    reward_kwargs = {key: [example[key] for example in inputs] for key in keys}
    reward_kwargs["trainer_state"] = object()
    reward_kwargs["log_extra"] = lambda column, values: pending_extra[column].extend(values)
    reward_kwargs["log_metric"] = lambda name, value: pending_metrics[name].append(value)
    columns, async_funcs = {}, []
    for i, func in enumerate(reward_funcs):
        if _is_async_callable(func):
            async_funcs.append((i, func))
        else:
            out = func(prompts=prompts, completions=completions, completion_ids=completion_ids, **reward_kwargs)
            columns[i] = [r if r is not None else math.nan for r in out]

    async def invoke(i, func):
        out = await func(prompts=prompts, completions=completions, completion_ids=completion_ids, **reward_kwargs)
        return i, [r if r is not None else math.nan for r in out]

    async def run_all():
        return await asyncio.gather(*(invoke(i, f) for i, f in async_funcs))

    if async_funcs:
        columns.update(asyncio.run_coroutine_threadsafe(run_all(), async_loop).result())
    return [columns[i] for i in range(len(reward_funcs))]


def test_trl_sync_and_async_reward_functions_with_log_metric(server, scorer):
    loop = asyncio.new_event_loop()  # TRL's start_event_loop_in_daemon (trl/trainer/utils.py:1454)
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        sync_reward, async_reward = TRLReward(scorer, name="fb_sync"), AsyncTRLReward(scorer, name="fb_async")
        assert not _is_async_callable(sync_reward) and _is_async_callable(async_reward)
        server.state.faults.append(Fault("text:garbage", times=1,
                                         when=lambda b: request_kind(b) == "verify" and "Again" in str(b)))
        completions = [GOOD, MIXED, "", GOOD + " Again."]
        inputs = [{"prompt": QUESTION, "reference": "A harbour."} for _ in completions]
        metrics, extra = defaultdict(list), defaultdict(list)
        sync_col, async_col = _calculate_rewards([sync_reward, async_reward], inputs, [QUESTION] * 4, completions,
                                                 [[1]] * 4, loop, metrics, extra)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
    # The fault masks the 4th answer once: in whichever function scored it first.
    assert sync_col[:3] == pytest.approx(async_col[:3]) and sync_col[0] > sync_col[1] > 0 and sync_col[2] == 0.0
    assert [math.isnan(sync_col[3]), math.isnan(async_col[3])].count(True) == 1
    masked_fn = "fb_sync" if math.isnan(sync_col[3]) else "fb_async"
    scored_fn = "fb_async" if masked_fn == "fb_sync" else "fb_sync"
    for name in ("fb_sync", "fb_async"):  # one value per metric per call, as TRL's _log_metric expects
        assert set(metrics) >= {f"{name}/{k}" for k in ("precision", "supported", "masked_rate", "judge_errors")}
        assert all(len(metrics[f"{name}/{k}"]) == 1 for k in ("precision", "supported", "masked_rate"))
        assert len(extra[f"{name}/status"]) == 4
    # precision and supported claims are means over the scored answers with claims
    assert metrics[f"{scored_fn}/precision"] == [pytest.approx((1 + 0.5 + 1) / 3)]
    assert metrics[f"{masked_fn}/precision"] == [pytest.approx((1 + 0.5) / 2)]
    assert metrics[f"{scored_fn}/masked_rate"] == [0.0] and metrics[f"{scored_fn}/judge_errors"] == [0.0]
    assert metrics[f"{masked_fn}/masked_rate"] == [0.25] and metrics[f"{masked_fn}/judge_errors"][0] >= 1
    assert extra[f"{masked_fn}/status"] == ["scored", "scored", "empty", "masked"]
    assert extra[f"{masked_fn}/precision"] == [1.0, 0.5, None, None]
    assert all(not math.isnan(v) for values in metrics.values() for v in values)


# ----------------------------------------------------------------------------------------------- verl 0.9.1
def _call_with_kwargs(raw_fn, extra_kwargs, *args, **kwargs):  # verl/trainer/ppo/reward.py:19-25
    return raw_fn(*args, **{**kwargs, **extra_kwargs})


async def _call_with_kwargs_async(raw_fn, extra_kwargs, *args, **kwargs):  # verl/trainer/ppo/reward.py:28-34
    return await raw_fn(*args, **{**kwargs, **extra_kwargs})


def _custom_reward_fn(path: str, name: str, reward_kwargs: dict):  # verl/trainer/ppo/reward.py:70-86
    assert path.startswith("pkg://")
    raw_fn = getattr(importlib.import_module(path[len("pkg://"):].replace("/", ".")), name)
    if not inspect.iscoroutinefunction(raw_fn):
        return functools.partial(_call_with_kwargs, raw_fn, reward_kwargs)
    return functools.partial(_call_with_kwargs_async, raw_fn, reward_kwargs)


@pytest.fixture
def verl_env(server, monkeypatch):
    monkeypatch.setenv("FACTBENCH_JUDGE", "openai/judge")
    monkeypatch.setenv("FACTBENCH_JUDGE_BASE_URL", server.base_url)
    monkeypatch.setattr(verl_module, "_default", None)
    yield
    if verl_module._default is not None and verl_module._default._built is not None:
        verl_module._default._built.close()


def test_verl_naive_manager_awaits_compute_score_per_sample(verl_env, server):
    compute_score = _custom_reward_fn("pkg://factbench.reward.verl", "compute_score", {})
    assert inspect.iscoroutinefunction(compute_score)  # NaiveRewardManager.__init__: is_async_reward_score

    async def run_single(solution_str: str, ground_truth) -> dict:  # naive.py run_single, async branch
        extra_info = {"prompt": QUESTION, "index": 0}
        extra_info["num_turns"] = None
        extra_info["rollout_reward_scores"] = {}
        result = await compute_score(data_source="factuality", solution_str=solution_str, ground_truth=ground_truth,
                                     extra_info=extra_info)
        return {"reward_score": result["score"], "reward_extra_info": dict(result)}

    async def compute_score_batch(samples):  # reward_loop.py RewardLoopWorker.compute_score_batch
        return await asyncio.gather(*(asyncio.create_task(run_single(s, g)) for s, g in samples))

    out = asyncio.run(compute_score_batch([(GOOD, "A harbour."), (MIXED, None), ("", ""), ("I think so.", None)]))
    assert out[0]["reward_score"] > out[1]["reward_score"] > 0 and out[2]["reward_score"] == 0.0
    assert [o["reward_extra_info"]["precision"] for o in out] == [1.0, 0.5, None, None]  # None, never NaN
    assert len({frozenset(o["reward_extra_info"]) for o in out}) == 1  # the same keys for every sample
    assert server.state.requests["relevance"] == 0  # ground_truth ignored: relevance has weight 0


_CHILD = ("import json, pickle, sys; fn = pickle.loads(sys.stdin.buffer.read()); "
          "print(json.dumps(fn(data_source='f', solution_str=sys.argv[1], ground_truth=None, "
          "extra_info={'prompt': 'Lyon?'})))")


def _in_another_process(payload: bytes, solution: str) -> dict:
    # verl's wrappers live in an importable module there; here, this file (its directory on the path).
    env = {**os.environ, "PYTHONPATH": os.path.dirname(__file__)}
    done = subprocess.run([sys.executable, "-c", _CHILD, solution], input=payload, capture_output=True, timeout=120,
                          env=env)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    return json.loads(done.stdout)


def test_verl_remote_manager_pickles_before_and_after_use(verl_env, server):
    fn = _custom_reward_fn("pkg://factbench.reward.verl", "compute_score_sync", {})
    assert not inspect.iscoroutinefunction(fn)  # RemoteRewardManager.__init__ asserts this
    here = fn(data_source="f", solution_str=MIXED, ground_truth=None, extra_info={"prompt": "Lyon?"})
    for dumps in (pickle.dumps, cloudpickle.dumps):  # Ray ships it with cloudpickle; plain pickle too
        assert _in_another_process(dumps(fn), MIXED) == here

    instance = VerlReward(judge="openai/judge", judge_base_url=server.base_url, use_cache=False)
    before = {d.__name__: d(instance) for d in (pickle.dumps, cloudpickle.dumps)}
    used = instance(data_source="f", solution_str=GOOD, ground_truth=None, extra_info={"prompt": "Lyon?"})
    after = {d.__name__: d(instance) for d in (pickle.dumps, cloudpickle.dumps)}
    for payload in (*before.values(), *after.values()):
        assert _in_another_process(payload, GOOD) == used
    with Scorer(judge="openai/judge", judge_base_url=server.base_url, use_cache=False) as given:
        wrapped = VerlReward(given)
        wrapped(data_source="f", solution_str=GOOD, ground_truth=None, extra_info={"prompt": "Lyon?"})
        assert _in_another_process(cloudpickle.dumps(wrapped), GOOD) == used  # a Scorer pickles as its settings
    instance.scorer.close()


def test_verl_without_configuration_says_what_to_set(monkeypatch):
    for var in ("FACTBENCH_REWARD_CONFIG", "FACTBENCH_REWARD_URL", "FACTBENCH_JUDGE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(verl_module, "_default", None)
    with pytest.raises(Exception, match="FACTBENCH_REWARD_CONFIG.*FACTBENCH_REWARD_URL.*FACTBENCH_JUDGE"):
        asyncio.run(verl_module.compute_score("f", GOOD, None, {"prompt": "Lyon?"}))


def test_verl_config_file(server, monkeypatch, tmp_path):
    config = tmp_path / "reward.json"
    config.write_text(json.dumps({"judge": "openai/judge", "judge_base_url": server.base_url, "use_cache": False,
                                  "masked_score": -1.0, "reward_lambda": 0.0, "informativeness": False}))
    monkeypatch.setenv("FACTBENCH_REWARD_CONFIG", str(config))
    monkeypatch.setattr(verl_module, "_default", None)
    out = asyncio.run(verl_module.compute_score("f", MIXED, None, {"question": "Lyon?"}))
    assert out["score"] == pytest.approx(0.5) and verl_module._default.masked_score == -1.0  # plain design, λ = 0
    verl_module._default.scorer.close()


# -------------------------------------------------------------------------------------------- OpenRLHF 0.11.2
ANSWER_END = {  # prompt (as each family's chat template renders it), then the rollout's end-of-turn tokens
    "qwen2.5": ("<|im_start|>system\nYou are Qwen, created by Alibaba Cloud.<|im_end|>\n<|im_start|>user\n"
                f"{QUESTION}<|im_end|>\n<|im_start|>assistant\n", "<|im_end|>"),
    "llama-3": ("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023"
                f"\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n{QUESTION}<|eot_id|>"
                "<|start_header_id|>assistant<|end_header_id|>\n\n", "<|eot_id|>"),
    "mistral": (f"<s>[INST] {QUESTION} [/INST]", "</s>"),
    "gemma-2": (f"<bos><start_of_turn>user\n{QUESTION}<end_of_turn>\n<start_of_turn>model\n", "<end_of_turn>\n<eos>"),
    "phi-3": (f"<|system|>\nBe factual.<|end|>\n<|user|>\n{QUESTION}<|end|>\n<|assistant|>\n", "<|end|><|endoftext|>"),
    "deepseek-r1": (f"<｜begin▁of▁sentence｜><｜User｜>{QUESTION}<｜Assistant｜><think>\n",
                    "<｜end▁of▁sentence｜>"),
}


def _decoded(prompt: str, family: str) -> str:
    """The prompt as a tokenizer may give it back: a space more or less beside special tokens."""
    return {"mistral": prompt.replace("<s>[INST] ", "<s> [INST]"), "gemma-2": prompt.replace("\n<start", "<start"),
            "llama-3": prompt.replace("\n\n<|eot_id|>", "<|eot_id|>"), "qwen2.5": prompt.replace("user\n", "user \n"),
            "phi-3": prompt.replace("<|end|>\n", "<|end|>"), "deepseek-r1": prompt.replace("<think>\n", "<think>")}[family]


async def _openrlhf_post(url: str, query: str, prompt: str, label) -> dict:
    """agent.py:_fetch_rewards_via_http -> _post_request: one rollout, no headers, raise_for_status."""
    payload = {"query": [query], "prompts": [prompt], "labels": [label]}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=180)) as session:
        async with session.post(url, json=payload) as response:
            response.raise_for_status()
            return await response.json()


def test_openrlhf_six_template_families(scorer, server):
    expected = {a: r.reward for a, r in zip((GOOD, MIXED), scorer.score_sync([QUESTION] * 2, [GOOD, MIXED]))}

    async def scenario():
        runner = web.AppRunner(build_app(scorer, masked_reward=-1.0))
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        url = f"http://127.0.0.1:{port}/get_reward"
        try:
            got = {}
            for family, (prompt, end) in ANSWER_END.items():
                for answer in (GOOD, MIXED):
                    rollout = ("Let me recall.\n</think>\n\n" if family == "deepseek-r1" else "") + answer + end
                    for query in (prompt + rollout, _decoded(prompt, family) + rollout):
                        info = await _openrlhf_post(url, query, prompt, "A label.")
                        extra = info["extra_logs"]
                        # samples_generator.py:288-292: torch.tensor([value]) for each: numbers only
                        assert all(isinstance(v, list) and all(isinstance(x, float) for x in v) for v in extra.values())
                        got[family, answer, query == prompt + rollout] = (info["scores"][0], extra["factbench_masked"])
            truncated = await _openrlhf_post(url, ANSWER_END["qwen2.5"][0][40:] + GOOD, ANSWER_END["qwen2.5"][0], None)
            return got, truncated
        finally:
            await runner.cleanup()

    got, truncated = asyncio.run(scenario())
    for (family, answer, exact), (score, masked) in got.items():
        assert masked == [0.0] and score == pytest.approx(expected[answer]), (family, exact)
    assert truncated["scores"] == [-1.0] and truncated["extra_logs"]["factbench_query_mismatch"] == [1.0]
    assert server.state.requests["relevance"] == 0  # labels ignored while relevance has weight 0


def test_docs_verl_example_runs_as_written(server, tmp_path):
    """docs/reward.md's own-settings verl file, loaded the way verl loads a file path."""
    doc = (Path(__file__).resolve().parents[3] / "docs" / "reward.md").read_text(encoding="utf-8")
    block = doc.split("# my_reward.py, named by reward.custom_reward_function.path", 1)[1].split("\n", 1)[1]
    block = block.split("```", 1)[0]
    path = tmp_path / "my_reward.py"
    path.write_text(block.replace("http://gpu2:8000/v1", server.base_url), encoding="utf-8")
    spec = importlib.util.spec_from_file_location("custom_module_test", path)  # verl/utils/import_utils.py:181-189
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    fn = functools.partial(_call_with_kwargs_async, module.compute_score, {})  # get_custom_reward_fn, async branch
    assert inspect.iscoroutinefunction(module.compute_score) and inspect.iscoroutinefunction(fn)
    out = asyncio.run(fn(data_source="f", solution_str=MIXED, ground_truth=None, extra_info={"prompt": "Lyon?"}))
    assert out["precision"] == 0.5 and out["masked"] == 0.0
    module.reward.scorer.close()

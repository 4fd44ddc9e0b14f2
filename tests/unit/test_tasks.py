import json
import sys
import textwrap

import pytest

from factbench.tasks import (
    DataContext,
    Prompt,
    Task,
    TaskDataUnavailable,
    TaskError,
    discover_tasks,
    resolve_tasks,
    sample_prompts,
)

BUILTIN = {"longfact-objects", "longfact-concepts", "bio", "fava", "alpacafact", "factbench-hard", "factory", "factory-hard"}


def test_builtins_are_discovered_through_entry_points():
    assert BUILTIN <= set(discover_tasks())


def test_all_means_the_core_benchmarks_and_selectors_work():
    assert {t.name for t in resolve_tasks("all")} == BUILTIN
    assert [t.name for t in resolve_tasks("longfact-*")] == ["longfact-objects", "longfact-concepts"]
    assert {t.name for t in resolve_tasks("factory")} == {"factory"}  # a name wins over a tag
    assert {t.name for t in resolve_tasks("tag:factory")} == {"factory", "factory-hard"}
    assert {t.name for t in resolve_tasks("noncommercial")} == {"factory", "factory-hard", "alpacafact"}
    with pytest.raises(TaskError, match="matches no task"):
        resolve_tasks("nonsense")


@pytest.mark.parametrize("name,count", [("longfact-objects", 1140), ("longfact-concepts", 1140), ("bio", 183),
                                        ("factbench-hard", 532)])
def test_published_prompt_counts(shared_data, name, count):
    task = discover_tasks()[name]
    prompts = task.load(DataContext(shared_data, offline=True))
    assert len(prompts) == count == task.n_prompts
    assert len({p.id for p in prompts}) == count


def test_bio_prompts_and_topics(shared_data):
    prompts = discover_tasks()["bio"].load(DataContext(shared_data, offline=True))
    assert prompts[0].text == f"Tell me a bio of {prompts[0].topic}."


def test_alpacafact_rule_selection_is_recorded_and_stable(shared_data):
    task = discover_tasks()["alpacafact"]
    prompts = task.load(DataContext(shared_data, offline=True))
    assert 150 < len(prompts) < 400
    assert all(p.reference for p in prompts)  # GPT-4 references feed the relevance judge
    assert all(p.meta["selection_rule"] == "alpacafact-rule-1" for p in prompts)
    assert [p.id for p in prompts] == [p.id for p in task.load(DataContext(shared_data, offline=True))]
    from factbench_tasks.alpacafact import is_fact_seeking

    assert is_fact_seeking("Who was the first person to climb Mount Everest?")
    assert not is_fact_seeking("Write a poem about the sea.")
    assert not is_fact_seeking("Write a Python function that reverses a list.")


def test_fava_and_factory_loaders_on_published_format(tmp_path):
    (tmp_path / "fava").mkdir()
    (tmp_path / "fava" / "annotations.json").write_text(json.dumps([
        {"prompt": "Tell me about X.", "output": "o1", "annotated": "a", "model": "m1"},
        {"prompt": "Tell me about X.", "output": "o2", "annotated": "a", "model": "m2"},
        {"prompt": "Who is Y?", "output": "o3", "annotated": "a", "model": "m1"}]))
    (tmp_path / "factory" / "prompts").mkdir(parents=True)
    (tmp_path / "factory" / "prompts" / "all_prompts.jsonl").write_text(
        '{"question": "What is A?"}\n{"question": "What is B?"}\n')
    (tmp_path / "factory" / "prompts" / "hard_prompts.jsonl").write_text('{"question": "What is C?"}\n')
    reg = discover_tasks()
    ctx = DataContext(tmp_path, offline=True)
    assert [p.text for p in reg["fava"].load(ctx)] == ["Tell me about X.", "Who is Y?"]
    assert [p.text for p in reg["factory"].load(ctx)] == ["What is A?", "What is B?"]
    assert [p.id for p in reg["factory-hard"].load(ctx)] == ["factory-hard-00000"]


def test_missing_data_is_reported_not_crashed(tmp_path):
    with pytest.raises(TaskDataUnavailable, match="offline"):
        discover_tasks()["factory"].load(DataContext(tmp_path, offline=True))
    with pytest.raises(TaskDataUnavailable, match="data-dir"):
        discover_tasks()["longfact-objects"].load(DataContext(tmp_path, offline=True))


def test_seeded_limit_is_reproducible_and_seed_dependent():
    prompts = [Prompt(id=str(i), text=f"q{i}") for i in range(100)]
    a = sample_prompts(prompts, 10, seed=1, task_name="t")
    assert [p.id for p in a] == [p.id for p in sample_prompts(prompts, 10, seed=1, task_name="t")]
    assert [p.id for p in a] != [p.id for p in sample_prompts(prompts, 10, seed=2, task_name="t")]
    assert [int(p.id) for p in a] == sorted(int(p.id) for p in a)


def test_local_task_file(tmp_path):
    f = tmp_path / "my_task.py"
    f.write_text(textwrap.dedent('''
        from factbench import Prompt, Task
        def load(ctx):
            return [Prompt(id="a", text="What is the capital of France?")]
        MY = Task(name="my-capitals", version="3", loader=load, tags=("custom",))
    '''))
    tasks = resolve_tasks(str(f))
    assert [t.name for t in tasks] == ["my-capitals"]
    assert tasks[0].load(DataContext()) [0].text == "What is the capital of France?"


def test_entry_point_plugin_from_a_test_package(tmp_path, monkeypatch):
    pkg = tmp_path / "site"
    (pkg / "toy_factbench_plugin").mkdir(parents=True)
    (pkg / "toy_factbench_plugin" / "__init__.py").write_text(textwrap.dedent('''
        from factbench import Prompt, Task
        TASKS = [Task(name="toy-plugin", version="1", loader=lambda ctx: [Prompt(id="1", text="Who is Z?")],
                      tags=("toy",))]
    '''))
    dist = pkg / "toy_factbench_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-factbench-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[factbench.tasks]\ntoy = toy_factbench_plugin:TASKS\n")
    monkeypatch.syspath_prepend(str(pkg))
    registry = discover_tasks()
    assert "toy-plugin" in registry
    assert [t.name for t in resolve_tasks("tag:toy", registry)] == ["toy-plugin"]
    assert "toy-plugin" not in {t.name for t in resolve_tasks("all", registry)}
    sys.modules.pop("toy_factbench_plugin", None)


def test_template_must_hold_the_prompt_slot_and_is_hashed():
    with pytest.raises(TaskError):
        Task(name="bad", version="1", loader=lambda ctx: [], template="no slot")
    a = Task(name="x", version="1", loader=lambda ctx: [], template="{prompt}")
    b = Task(name="x", version="1", loader=lambda ctx: [], template="{prompt} Be brief.")
    assert a.template_sha != b.template_sha
    assert b.render(Prompt(id="1", text="Use {braces}?")) == "Use {braces}? Be brief."

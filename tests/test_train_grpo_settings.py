"""train_grpo.py's settings and rewards (plain Python; its training runs in tests/engine)."""

from __future__ import annotations

import importlib.util

import pytest

from orchestrator.resources import data_dir

_spec = importlib.util.spec_from_file_location(
    "train_grpo", data_dir("container_scripts") / "train_grpo.py")
train_grpo = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(train_grpo)


def test_layers_defaults_then_yaml_then_max_tokens_then_flags(tmp_path, monkeypatch) -> None:
    config = tmp_path / "grpo.yaml"
    config.write_text("model: /models/m\nmax_completion_length: 64\nbeta: 0.1\nmax_steps: 5\n")
    monkeypatch.delenv("MAX_TOKENS", raising=False)
    assert train_grpo.parse_settings(["--config", str(config)])["max_completion_length"] == 64
    monkeypatch.setenv("MAX_TOKENS", "256")
    settings = train_grpo.parse_settings(["--config", str(config), "--max-steps", "2",
                                          "--reward", "json_valid", "--log-raw-output"])
    assert settings["max_completion_length"] == 256  # MAX_TOKENS beats the file
    assert settings["max_steps"] == 2 and settings["beta"] == 0.1
    assert settings["rewards"] == ["json_valid"] and settings["log_raw_output"] is True
    flag_wins = train_grpo.parse_settings(["--config", str(config), "--max-completion-length", "32"])
    assert flag_wins["max_completion_length"] == 32


@pytest.mark.parametrize(
    ("argv", "message"),
    [([], "no model"),
     (["--model", "m", "--generation", "fast"], "--generation 'fast'")],
)
def test_bad_settings_exit_with_a_message(argv, message, monkeypatch) -> None:
    monkeypatch.delenv("MAX_TOKENS", raising=False)
    with pytest.raises(SystemExit, match=message):
        train_grpo.parse_settings(argv)


def test_unknown_yaml_key(tmp_path) -> None:
    config = tmp_path / "grpo.yaml"
    config.write_text("model: m\nlearnig_rate: 1\n")
    with pytest.raises(SystemExit, match=r"unknown settings .*learnig_rate"):
        train_grpo.parse_settings(["--config", str(config)])


def test_rewards() -> None:
    assert train_grpo.json_valid(['{"a": 1}', '```json\n{"b": 2}\n```', "[1]", "nope"]) == [1, 1, 0, 0]
    penalty = train_grpo.load_reward("length_penalty", {"length_target_words": 4})
    assert penalty(["a b c", "a b c d e f", "a b c d e f g h i j k l"]) == [0, -0.5, -2.0]
    assert penalty.__name__ == "length_penalty"  # TRL names its metrics after the function
    assert train_grpo.load_reward("json:loads", {}) is __import__("json").loads
    with pytest.raises(SystemExit, match="unknown reward 'nope'"):
        train_grpo.load_reward("nope", {})
    with pytest.raises(SystemExit, match="cannot load reward 'no_such_module:f'"):
        train_grpo.load_reward("no_such_module:f", {})


def test_rewards_with_variance() -> None:
    settings = {"length_target_words": 4, "keyword": "paris"}
    target = train_grpo.load_reward("length_target", settings)
    assert target.__name__ == "length_target"
    # 1.0 on target, less the further off either way, never under -1.0.
    assert target(["a b c d", "a b", "a b c d e f", "", " ".join("w" * 40)]) == [1, 0.5, 0.5, 0, -1]
    keyword = train_grpo.load_reward("keyword", settings)
    assert keyword(["Off to PARIS", "Rome"]) == [1, 0]  # the setting's word, any case
    assert keyword(["Off to Paris", "Rome it is"], keyword=["rome", "rome"]) == [0, 1]  # the row's
    exact = train_grpo.load_reward("exact_answer", settings)
    assert exact(["\n  Paris.\nbecause", "Paris is the answer", ""], answer=["paris"] * 3) == [1, 0, 0]
    assert train_grpo.needed_columns(["exact_answer", "keyword"], {"keyword": ""}) == {
        "answer": "exact_answer", "keyword": "keyword (or --keyword)"}
    assert train_grpo.needed_columns(["keyword"], settings) == {}


def test_the_config_check_knows_the_scripts_rewards() -> None:
    from orchestrator.config.train_checks import builtin_rewards

    assert builtin_rewards() == train_grpo.REWARDS

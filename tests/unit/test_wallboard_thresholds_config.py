"""``wallboard_thresholds`` in the targets file: values per kind, queue over file, and every
error naming the file, the line and the key path, exactly."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from stream.config import Settings, TargetsError, load_targets, parse_targets
from stream.core.thresholds import Threshold


def book(text: str) -> object:
    return parse_targets(textwrap.dedent(text), source="targets.yaml")


def test_values_per_kind_and_the_queue_over_the_file() -> None:
    b = parse_targets(
        textwrap.dedent(
            """\
            wallboard_thresholds:
              calls_waiting: {warn: 5, bad: 10}
              service_level_today: {warn: 80%, bad: 0.7}
              oldest_call_waiting_seconds: {warn: 30s, bad: 2m}
            queues:
              billing:
                wallboard_thresholds:
                  calls_waiting: {warn: 2, bad: 4}
                  agent_answer_rate_today: {warn: '95%', bad: '95%'}
              sales: {}
            """
        ),
        source="targets.yaml",
    )
    file_level = {
        "calls_waiting": Threshold(5, 10),
        "service_level_today": Threshold(0.8, 0.7),
        "oldest_call_waiting_seconds": Threshold(30, 120),
    }
    assert dict(b.thresholds("unnamed")) == file_level
    assert dict(b.thresholds("sales")) == file_level
    assert dict(b.thresholds("billing")) == {
        **file_level,
        "calls_waiting": Threshold(2, 4),
        "agent_answer_rate_today": Threshold(0.95, 0.95),
    }
    assert dict(parse_targets("").thresholds("x")) == {}


ERRORS = [
    pytest.param(
        """\
        wallboard_thresholds:
          calls_waitin: {warn: 1, bad: 2}
        """,
        "targets.yaml:2: wallboard_thresholds: unknown key 'calls_waitin' (did you mean "
        "'calls_waiting'?); allowed keys: calls_waiting, oldest_call_waiting_seconds, "
        "service_level_today, average_speed_of_answer_today_seconds, abandon_rate_today, "
        "first_response_within_target_today, backlog, agents_available, agents_staffed, "
        "agents_on_queue, agents_away, agents_ringing, offers_missed, agent_answer_rate_today, "
        "ewt_recent_seconds, ewt_erlang_c_seconds, agents_required",
        id="unknown-tile",
    ),
    pytest.param(
        """\
        wallboard_thresholds:
          agents_away:
            warn: 5
            bad: 3
        """,
        "targets.yaml:3: wallboard_thresholds.agents_away: bad (3) must be at least warn (5): "
        "a higher agents_away is worse",
        id="above-out-of-order",
    ),
    pytest.param(
        """\
        queues:
          billing:
            wallboard_thresholds:
              service_level_today: {warn: 70%, bad: 80%}
        """,
        "targets.yaml:4: queues.billing.wallboard_thresholds.service_level_today: bad (0.8) "
        "must be at most warn (0.7): a lower service_level_today is worse",
        id="below-out-of-order",
    ),
    pytest.param(
        """\
        wallboard_thresholds:
          abandon_rate_today: {warn: 5%, bad: 120%}
        """,
        "targets.yaml:2: wallboard_thresholds.abandon_rate_today.bad: expected a ratio in "
        "[0, 1] such as 0.8 or '80%', got '120%'",
        id="ratio-above-one",
    ),
    pytest.param(
        """\
        wallboard_thresholds:
          backlog: {warn: 10, bad: lots}
        """,
        "targets.yaml:2: wallboard_thresholds.backlog.bad: expected a count (a whole number, "
        "0 or more), got 'lots'",
        id="count-not-a-number",
    ),
    pytest.param(
        """\
        wallboard_thresholds:
          agents_available: {warn: 2.5, bad: 1}
        """,
        "targets.yaml:2: wallboard_thresholds.agents_available.warn: expected a count (a whole "
        "number, 0 or more), got 2.5",
        id="count-with-a-fraction",
    ),
    pytest.param(
        """\
        wallboard_thresholds:
          oldest_call_waiting_seconds: {warn: soon, bad: 2m}
        """,
        "targets.yaml:2: wallboard_thresholds.oldest_call_waiting_seconds.warn: expected a "
        "non-negative duration (seconds, or a string like '90s', '15m', '24h', '2d'), got 'soon'",
        id="duration",
    ),
    pytest.param(
        """\
        wallboard_thresholds:
          calls_waiting:
            warn: 3
        """,
        "targets.yaml:3: wallboard_thresholds.calls_waiting: expected both warn and bad, bad "
        "missing",
        id="bad-missing",
    ),
    pytest.param(
        """\
        wallboard_thresholds:
          calls_waiting: {warn: 3, bad: 5, red: 9}
        """,
        "targets.yaml:2: wallboard_thresholds.calls_waiting: unknown key 'red'; allowed keys: "
        "warn, bad",
        id="unknown-bound",
    ),
    pytest.param(
        """\
        wallboard_thresholds:
          calls_waiting: 5
        """,
        "targets.yaml:2: wallboard_thresholds.calls_waiting: expected a mapping with keys warn, "
        "bad, got 5",
        id="not-a-mapping",
    ),
    pytest.param(
        """\
        queues:
          billing:
            channels:
              chat:
                wallboard_thresholds: {}
        """,
        "targets.yaml:5: queues.billing.channels.chat: unknown key 'wallboard_thresholds'; "
        "allowed keys: answer_target_seconds, short_abandon_seconds, first_response_seconds, "
        "resolution_seconds, handle_time_seconds",
        id="not-per-channel",
    ),
]


@pytest.mark.parametrize(("text", "message"), ERRORS)
def test_errors_name_file_line_and_key(text: str, message: str) -> None:
    with pytest.raises(TargetsError) as caught:
        book(text)
    assert str(caught.value) == message


def test_the_agents_listed_setting() -> None:
    assert Settings.from_env({}).wallboard_agents == 20
    assert Settings.from_env({"STREAM_WALLBOARD_AGENTS": "0"}).wallboard_agents == 0
    with pytest.raises(ValueError, match="STREAM_WALLBOARD_AGENTS"):
        Settings.from_env({"STREAM_WALLBOARD_AGENTS": "500"})


ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_example_and_its_quoted_error_are_real() -> None:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("  ```yaml\n  wallboard_thresholds:") + len("  ```yaml\n")
    example = textwrap.dedent(readme[start : readme.index("  ```\n", start)])
    b = parse_targets(example, source="README.md")
    assert dict(b.thresholds("billing")) == {
        "agents_away": Threshold(2, 4),
        "agent_answer_rate_today": Threshold(0.9, 0.75),
        "calls_waiting": Threshold(5, 10),
        "oldest_call_waiting_seconds": Threshold(30, 120),
    }
    wrong = "queues:\n  billing:\n    wallboard_thresholds:\n      agents_away: {warn: 3, bad: 2}\n"
    with pytest.raises(TargetsError) as caught:
        parse_targets(wrong, source="targets.yaml")
    assert f"({caught.value!s})" in " ".join(readme.replace("`", "").split())


def test_the_example_targets_file_sets_thresholds() -> None:
    b = load_targets(ROOT / "deploy" / "targets.example.yaml")
    assert dict(b.thresholds("billing")) == {
        "agents_away": Threshold(3, 6),
        "agent_answer_rate_today": Threshold(0.9, 0.75),
    }

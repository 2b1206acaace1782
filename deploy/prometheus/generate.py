"""Writes ``deploy/prometheus/rules/targets.rules.yml``: the service targets as recording rules.

The alert rules compare live metrics with the queue's *targets* (service-level goal, answer
target, first-response target), and the targets live in the workers' targets file
(``STREAM_TARGETS_FILE``, see ``deploy/targets.example.yaml``), not in the metrics. This module
reads that file with the workers' own parser (``stream.config.load_targets``) and turns it into
constant recording rules, so Prometheus, the dashboards and the workers agree on every number:

* ``queue:contact_centre_service_level_goal:ratio{queue}``
* ``queue_channel:contact_centre_answer_target:seconds{queue,channel}``
* ``queue_channel:contact_centre_first_response_target:seconds{queue,channel}``
* ``queue:contact_centre_handle_time_target:seconds{queue}`` and
  ``queue:contact_centre_resolution_target:seconds{queue}`` (dashboards)
* ``queue:contact_centre_answer_target:max_seconds`` and
  ``queue:contact_centre_first_response_target:max_seconds``: the largest target over the
  channels the queue has had contacts on (a count above 0: every known queue exports its
  counters at 0 on every channel from the start, which would make the largest target any
  channel's). The live "oldest waiting" gauges are per queue, not per
  channel, so an age above this is a certain breach whatever channel the contact is on.

Queues the file names get one constant per queue (and channel); every other queue that has
exported series gets the file's defaults, joined onto the queues seen in the metrics. "Seen"
means within the last hour (``last_over_time(...[1h])``), so that a target does not vanish the
moment a worker stops: the breach alerts hold a dead worker's last values for that hour and
need the target to compare them with.

Run ``make target-rules`` (``python -m deploy.prometheus.generate [TARGETS_FILE]``) after
changing the targets file; a test checks that the committed rules match the example file.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

import yaml

from stream.config import CHANNELS, TargetBook, Targets, load_targets

HERE: Final = Path(__file__).resolve().parent
DEFAULT_TARGETS: Final = HERE.parent / "targets.example.yaml"
DEFAULT_OUTPUT: Final = HERE / "rules" / "targets.rules.yml"
# A queue name no targets file can contain (names are 1..64 characters, this one is longer):
# asking the book about it gives the file's defaults.
_UNNAMED: Final = "\x00" * 65


def _number(value: float) -> str:
    """A PromQL number literal: integers without a fraction, others exactly."""
    return str(int(value)) if value == int(value) else repr(value)


def _string(text: str) -> str:
    """A PromQL double-quoted string literal."""
    return json.dumps(text)


def _constant(value: float, **labels: str) -> str:
    expr = f"vector({_number(value)})"
    for name, label_value in labels.items():
        expr = f"label_replace({expr}, {_string(name)}, {_string(label_value)}, {_string('')}, "
        expr += f"{_string('')})"
    return expr


def _per_queue(book: TargetBook, pick: Callable[[Targets], float], seen: str) -> str:
    """Constants for the named queues, the defaults for every other queue in ``seen``."""
    terms = [_constant(pick(book.for_queue(q)), queue=q) for q in book.queues()]
    default = _number(pick(book.for_queue(_UNNAMED)))
    terms.append(f"on(queue) ({default} * group by (queue) ({seen}))")
    return "\n  or ".join(terms) + "\n"


def _per_queue_channel(book: TargetBook, pick: Callable[[Targets], float], seen: str) -> str:
    """Constants per named queue and channel, the per-channel defaults for other queues."""
    terms = [
        _constant(pick(book.for_queue(q, c)), queue=q, channel=c)
        for q in book.queues()
        for c in CHANNELS
    ]
    defaults = "\n    or ".join(
        _constant(pick(book.for_queue(_UNNAMED, c)), channel=c) for c in CHANNELS
    )
    terms.append(
        f"on(queue, channel) (\n    0 * group by (queue, channel) ({seen})\n"
        f"    + on(channel) group_left()\n    (\n    {defaults}\n    )\n  )"
    )
    return "\n  or ".join(terms) + "\n"


def _max_in_use(per_channel: str, contacts: str) -> str:
    return (
        f"max by (queue) (\n  {per_channel}\n"
        f"  and on(queue, channel) group by (queue, channel) ({contacts} > 0)\n)\n"
    )


class _Literal(str):
    """A string dumped in YAML's block literal style (``|``)."""


def rules(book: TargetBook) -> dict[str, object]:
    """The rule file's document for ``book``."""
    seen = "last_over_time(contact_centre_last_event_timestamp_seconds[1h])"
    calls = "last_over_time(contact_centre_calls_offered_total[1h])"
    tickets = "last_over_time(contact_centre_tickets_created_total[1h])"
    answer = "queue_channel:contact_centre_answer_target:seconds"
    first_response = "queue_channel:contact_centre_first_response_target:seconds"
    recorded = [
        ("queue:contact_centre_service_level_goal:ratio",
         _per_queue(book, lambda t: t.service_level_goal, seen)),
        ("queue:contact_centre_handle_time_target:seconds",
         _per_queue(book, lambda t: t.handle_time_seconds, seen)),
        ("queue:contact_centre_resolution_target:seconds",
         _per_queue(book, lambda t: t.resolution_seconds, seen)),
        (answer, _per_queue_channel(book, lambda t: t.answer_target_seconds, calls)),
        (first_response, _per_queue_channel(book, lambda t: t.first_response_seconds, tickets)),
        ("queue:contact_centre_answer_target:max_seconds", _max_in_use(answer, calls)),
        ("queue:contact_centre_first_response_target:max_seconds",
         _max_in_use(first_response, tickets)),
    ]  # fmt: skip
    return {
        "groups": [
            {
                "name": "contact-centre-targets",
                "rules": [{"record": name, "expr": _Literal(expr)} for name, expr in recorded],
            }
        ]
    }


def _literal(dumper: yaml.SafeDumper, text: _Literal) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(text), style="|")


class _Dumper(yaml.SafeDumper):
    """SafeDumper that writes ``_Literal`` strings as block literals."""


_Dumper.add_representer(_Literal, _literal)


def render(book: TargetBook, source: str) -> str:
    """The rule file's text: a header naming ``source``, then the rules."""
    body = yaml.dump(rules(book), Dumper=_Dumper, sort_keys=False, width=100)
    header = (
        f"# Generated from {source} by `make target-rules`"
        " (python -m deploy.prometheus.generate): do not edit.\n"
        "# The service targets as constant series, for the alert rules and the dashboards.\n"
    )
    return header + body


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("targets", nargs="?", default=str(DEFAULT_TARGETS))
    parser.add_argument("-o", "--output", default=str(DEFAULT_OUTPUT))
    args = parser.parse_args(argv)
    book = load_targets(args.targets)
    source = Path(args.targets).resolve()
    try:
        shown = str(source.relative_to(HERE.parent.parent))
    except ValueError:
        shown = str(source)
    Path(args.output).write_text(render(book, shown), encoding="utf-8")
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

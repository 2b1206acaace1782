"""The worker's configuration: ``STREAM_*`` settings and the targets file.

The package's modules, each owning one thing:

* ``settings``: ``Settings``, one frozen value of every setting, read from ``STREAM_*`` variables
  (``Settings.from_env()``), and the argparse types of the options that mirror settings;
* ``convert``: the converters of those values (text → setting, or what the setting expects);
* ``durations``: ``parse_duration`` (``90``, ``"90s"``, ``"1h30m"``, ``"2d"``);
* ``targets``: the targets model, ``Targets`` and ``TargetBook`` (targets by queue and channel,
  calendars, teams, away reasons, wallboard thresholds);
* ``targets_file``: the YAML targets file read into a ``TargetBook`` (``load_targets``): its
  structure (defaults, queues, channels);
* ``targets_values``: each value of that file checked on its node (durations, goals, time zones,
  business hours, holidays, away reasons, wallboard thresholds);
* ``yaml_lines``: the one line-numbered YAML reader of every config file (this package's and the
  connectors');
* ``errors``: ``ConfigError`` (every problem at once), ``ConfigFileError`` (file and line) and
  its ``TargetsError``.

Importers use ``from stream.config import Settings, TargetBook, ...``: the names below.
"""

from __future__ import annotations

from stream.config.durations import parse_duration
from stream.config.errors import ConfigError, ConfigFileError, TargetsError
from stream.config.settings import (
    ENV_PREFIX,
    ENV_VARIABLES,
    FORWARD_FRAMING_BYTES,
    Settings,
    unknown_variables,
)
from stream.config.targets import (
    BUILTIN_FIRST_RESPONSE_SECONDS,
    BUILTIN_TARGETS,
    CHANNELS,
    TargetBook,
    Targets,
)
from stream.config.targets_file import MAX_AGENT_REASONS, load_targets, parse_targets

__all__ = [
    "BUILTIN_FIRST_RESPONSE_SECONDS",
    "BUILTIN_TARGETS",
    "CHANNELS",
    "ENV_PREFIX",
    "ENV_VARIABLES",
    "FORWARD_FRAMING_BYTES",
    "MAX_AGENT_REASONS",
    "ConfigError",
    "ConfigFileError",
    "Settings",
    "TargetBook",
    "Targets",
    "TargetsError",
    "load_targets",
    "parse_duration",
    "parse_targets",
    "unknown_variables",
]

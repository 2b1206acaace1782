"""Path settings: made with their parents, or a ConfigError naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from stream.config import ConfigError
from stream.config.paths import writable_directory, writable_file_parent


def test_a_missing_directory_is_made_with_its_parents(tmp_path: Path) -> None:
    made = writable_directory(tmp_path / "var" / "data", "data_dir")
    assert made.is_dir()
    assert writable_directory(made, "data_dir") == made  # existing: fine


def test_a_file_in_the_way_names_the_variable(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("")
    with pytest.raises(ConfigError, match=r"^STREAM_DATA_DIR='.*data': expected a directory"):
        writable_directory(tmp_path / "data", "data_dir")
    with pytest.raises(ConfigError, match=r"STREAM_DATA_DIR=.*cannot create the directory"):
        writable_directory(tmp_path / "data" / "below", "data_dir")


@pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="needs Linux sysfs")
def test_a_read_only_directory_names_the_variable() -> None:
    # sysfs refuses new files even to root, so this holds on CI machines that run as root.
    with pytest.raises(ConfigError, match=r"^STREAM_DATA_DIR='/sys/kernel': .* not writable"):
        writable_directory("/sys/kernel", "data_dir")


def test_a_file_setting_gets_its_directory(tmp_path: Path) -> None:
    assert writable_file_parent(tmp_path / "a" / "b" / "events.ndjson", "--record").is_dir()
    (tmp_path / "f").write_text("")
    with pytest.raises(ConfigError, match=r"^--record='.*': cannot create its directory"):
        writable_file_parent(tmp_path / "f" / "events.ndjson", "--record")

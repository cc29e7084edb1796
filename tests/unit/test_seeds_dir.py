"""Where the seed-driven acceptance tests find the seed documents, and what happens without them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.acceptance.seed_clients import REPO_ROOT, require_seeds, seed_path, seeds_dir


def test_the_default_is_shared_seeds_beside_the_repository(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DLSERVE_SEEDS_DIR", raising=False)
    assert seeds_dir() == REPO_ROOT.parent / "shared" / "seeds"


def test_dlserve_seeds_dir_points_elsewhere(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "004_media.txt").write_text("Complete Example\n", encoding="utf-8")
    monkeypatch.setenv("DLSERVE_SEEDS_DIR", str(tmp_path))
    assert require_seeds() == tmp_path
    assert seed_path("004") == tmp_path / "004_media.txt"


def test_missing_seeds_skip_with_a_one_line_reason(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DLSERVE_SEEDS_DIR", str(tmp_path / "absent"))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception) as skipped:
        seed_path("001")
    assert str(skipped.value) == f"seed documents not found at {tmp_path / 'absent'} (set DLSERVE_SEEDS_DIR)"


def test_missing_seeds_fail_under_ci(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DLSERVE_SEEDS_DIR", str(tmp_path / "absent"))
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="seed documents not found"):
        require_seeds()

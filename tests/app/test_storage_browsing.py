"""Storage browsing under the root; nothing can leave it (both engines)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from kubarr_app.api.state import AppState


def tree(root: Path) -> dict[str, bytes | None]:
    """A snapshot of every path under ``root`` and each file's content."""
    found: dict[str, bytes | None] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            found[os.path.relpath(os.path.join(folder, name), root)] = None
        for name in files:
            path = os.path.join(folder, name)
            found[os.path.relpath(path, root)] = (
                None if os.path.islink(path) else Path(path).read_bytes()
            )
    return found


@pytest.fixture
def storage(state: AppState, tmp_path: Path) -> Path:
    root = state.settings.storage_path
    (root / "downloads").mkdir()
    (root / "media" / "films").mkdir(parents=True)
    (root / "media" / "films" / "clip.mkv").write_bytes(b"x" * 300_000)
    (root / "empty").mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("not yours")
    (root / "escape").symlink_to(outside)
    (root / "escape-file").symlink_to(outside / "secret.txt")
    return root


def test_listing_shows_folders_first(admin: TestClient, storage: Path) -> None:
    entries = admin.get("/api/storage/list").json()
    names = [(e["name"], e["kind"]) for e in entries]

    assert names[:3] == [
        ("downloads", "directory"),
        ("empty", "directory"),
        ("media", "directory"),
    ]
    assert ("escape", "symlink") in names


def test_info_reports_size(admin: TestClient, storage: Path) -> None:
    info = admin.get("/api/storage/info", params={"path": "media/films/clip.mkv"})
    assert info.json()["size"] == 300_000
    assert info.json()["path"] == "media/films/clip.mkv"


def test_download_streams_the_file(admin: TestClient, storage: Path) -> None:
    with admin.stream(
        "GET", "/api/storage/download", params={"path": "media/films/clip.mkv"}
    ) as response:
        chunks = list(response.iter_bytes())
    assert response.status_code == 200
    assert b"".join(chunks) == b"x" * 300_000


def test_mkdir_and_delete_an_empty_folder(admin: TestClient, storage: Path) -> None:
    created = admin.post("/api/storage/mkdir", json={"path": "media/shows"})
    assert created.status_code == 201
    assert (storage / "media" / "shows").is_dir()

    assert (
        admin.delete("/api/storage", params={"path": "media/shows"}).status_code == 204
    )
    assert not (storage / "media" / "shows").exists()


def test_a_folder_with_content_is_not_deleted(admin: TestClient, storage: Path) -> None:
    response = admin.delete("/api/storage", params={"path": "media/films"})
    assert response.status_code == 409
    assert (storage / "media" / "films" / "clip.mkv").exists()


@pytest.mark.parametrize("folder", ["downloads", "media", "./media", "media/"])
def test_protected_folders_cannot_be_deleted(
    admin: TestClient, storage: Path, folder: str
) -> None:
    (storage / "media" / "films" / "clip.mkv").unlink()
    (storage / "media" / "films").rmdir()

    response = admin.delete("/api/storage", params={"path": folder})

    assert response.status_code == 403
    assert (storage / folder.strip("./")).is_dir()


def test_deleting_a_symlink_removes_the_link_not_its_target(
    admin: TestClient, storage: Path, tmp_path: Path
) -> None:
    response = admin.delete("/api/storage", params={"path": "escape-file"})

    assert response.status_code == 204
    assert not (storage / "escape-file").is_symlink()
    assert (tmp_path / "outside" / "secret.txt").read_text() == "not yours"


TRAVERSALS = [
    ("GET", "/api/storage/list", "../"),
    ("GET", "/api/storage/list", "media/../../"),
    ("GET", "/api/storage/list", "/etc"),
    ("GET", "/api/storage/download", "../outside/secret.txt"),
    ("GET", "/api/storage/download", "%2e%2e/outside/secret.txt"),
    ("GET", "/api/storage/download", "..%2Foutside%2Fsecret.txt"),
    ("GET", "/api/storage/download", "media\\..\\..\\outside\\secret.txt"),
    ("GET", "/api/storage/download", "escape/secret.txt"),
    ("GET", "/api/storage/download", "escape-file"),
    ("GET", "/api/storage/info", "escape"),
    ("GET", "/api/storage/list", "escape"),
    ("GET", "/api/storage/info", "media/\x00../../etc/passwd"),
    ("GET", "/api/storage/info", "C:/Windows"),
    ("DELETE", "/api/storage", "escape/secret.txt"),
    ("DELETE", "/api/storage", "../outside/secret.txt"),
    ("DELETE", "/api/storage", ""),
    ("DELETE", "/api/storage", "%252e%252e/outside"),
    ("POST", "/api/storage/mkdir", "../made-outside"),
    ("POST", "/api/storage/mkdir", "escape/made-through-link"),
    ("POST", "/api/storage/mkdir", "/tmp/made-absolute"),
]


def test_path_traversal_attempts_fail_and_touch_nothing(
    admin: TestClient, storage: Path, tmp_path: Path
) -> None:
    before_root, before_outside = tree(storage), tree(tmp_path / "outside")
    before_tmp = sorted(p.name for p in tmp_path.iterdir())
    statuses = []

    for method, url, path in TRAVERSALS:
        if method == "POST":
            response = admin.post(url, json={"path": path})
        else:
            response = admin.request(method, url, params={"path": path})
        statuses.append((path, response.status_code))
        assert b"not yours" not in response.content

    assert all(400 <= code < 500 for _, code in statuses), statuses
    assert tree(storage) == before_root
    assert tree(tmp_path / "outside") == before_outside
    assert sorted(p.name for p in tmp_path.iterdir()) == before_tmp
    assert not Path("/tmp/made-absolute").exists()


def test_disk_usage_comes_from_the_filesystem(admin: TestClient, storage: Path) -> None:
    usage = admin.get("/api/storage/usage").json()
    fs = os.statvfs(storage)

    assert usage["total"] == fs.f_blocks * fs.f_frsize
    assert 0 <= usage["free"] <= usage["total"]


def test_storage_write_needs_permission(admin: TestClient, storage: Path) -> None:
    admin.post(
        "/api/users",
        json={"username": "viv", "password": "password-123", "roles": ["viewer"]},
    )
    admin.post("/api/auth/login", json={"username": "viv", "password": "password-123"})

    response = admin.post("/api/storage/mkdir", json={"path": "nope"})

    assert response.status_code == 403
    assert not (storage / "nope").exists()

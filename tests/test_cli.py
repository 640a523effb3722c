"""The byocframe command line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from byocframe.cli import main


def test_demo_runs_offline_and_writes_a_map(tmp_path, capsys):
    output = tmp_path / "map.png"
    assert main(["demo", "--tiles", "300", "-o", str(output), "--no-basemap"]) == 0
    text = capsys.readouterr().out
    assert "300 tiles" in text
    assert "Coverage per sensing date" in text
    assert "2024-06-01" in text
    assert output.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_demo_falls_back_to_the_land_layer(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("BYOCFRAME_OFFLINE")
    monkeypatch.setattr("byocframe.plotting.BASEMAP_TIMEOUT", 0.5)
    monkeypatch.setattr(
        "contextily.providers.OpenStreetMap.Mapnik",
        "http://127.0.0.1:9/{z}/{x}/{y}.png",
        raising=False,
    )
    assert main(["demo", "--tiles", "100", "-o", str(tmp_path / "m.png")]) == 0
    assert "Natural Earth land layer" in capsys.readouterr().out


@pytest.mark.parametrize("command", [[], ["demo"], ["serve"]])
def test_help_teaches(command):
    result = subprocess.run(
        [sys.executable, "-m", "byocframe.cli", *command, "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "usage: byocframe" in result.stdout
    assert "examples:" in result.stdout or "--" in result.stdout


def test_errors_are_one_line(tmp_path, capsys):
    assert (
        main(["demo", "--tiles", "10", "-o", str(tmp_path / "missing" / "m.png"), "--no-basemap"])
        == 1
    )
    err = capsys.readouterr().err
    assert err.startswith("byocframe demo: error:")
    assert "Traceback" not in err


def test_serve_prints_its_url_and_answers(tmp_path):
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "byocframe.cli",
            "serve",
            "--port",
            "0",
            "--db",
            str(tmp_path / "s.sqlite"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        first = process.stdout.readline()
        assert first.startswith("byocframe local BYOC service at http://127.0.0.1:")
        base_url = first.rsplit(" ", 1)[-1].strip()
        import byocframe
        from byocframe.emulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

        client = byocframe.Client(base_url, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
        client.create_collection({"name": "via cli", "s3Bucket": "b"})
        assert [c["name"] for c in client.iter_collections()] == ["via cli"]
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()

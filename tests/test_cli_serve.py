"""``byocframe serve``: what it prints is all another shell, or sentinelhub-py, needs."""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from byocframe.cli import main

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:botocore.*")


class Served:
    """A ``byocframe serve`` child process and the lines it printed before serving."""

    def __init__(self, *flags: str):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "byocframe", "serve", "--port", "0", *flags],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.lines: list[str] = []
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))
            if line.startswith("Press Ctrl+C"):
                break

    def after(self, heading: str) -> str:
        """The line printed after the one starting with ``heading``, stripped."""
        at = next(i for i, line in enumerate(self.lines) if line.startswith(heading))
        return self.lines[at + 1].strip()

    def exported(self, heading: str) -> dict[str, str]:
        """The variables of the ``export`` line under ``heading``."""
        words = shlex.split(self.after(heading), comments=True)
        assert words[0] == "export"
        return dict(word.split("=", 1) for word in words[1:])

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        assert self.process.stdout is not None
        self.process.stdout.close()


@pytest.fixture
def served_demo() -> Iterator[Served]:
    served = Served("--demo", "--demo-tiles", "30", "--s3")
    yield served
    served.stop()


def bare_environment(home: Path) -> dict[str, str]:
    """What a fresh shell has: no SH_*, no OAUTHLIB_*, no AWS_*, an empty home."""
    keep = ("PATH", "SYSTEMROOT", "LANG")
    return {name: os.environ[name] for name in keep if name in os.environ} | {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
    }


def test_sentinelhub_py_lists_the_demo_with_the_printed_lines(
    served_demo: Served, tmp_path: Path
) -> None:
    environment = bare_environment(tmp_path)
    environment |= served_demo.exported("For sentinelhub-py")
    environment |= served_demo.exported("The demo collection")
    config_line = served_demo.after("then in Python")
    assert config_line.startswith("config = SHConfig(")
    script = "\n".join(
        [
            "import os",
            "from sentinelhub import SHConfig, SentinelHubBYOC",
            config_line,
            "byoc = SentinelHubBYOC(config=config)",
            "names = [c['name'] for c in byoc.iter_collections()]",
            "tiles = list(byoc.iter_tiles(os.environ['COLLECTION']))",
            "print(len(names), names[0], len(tiles))",
        ]
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env=environment, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split(maxsplit=1)[0] == "1"
    assert done.stdout.strip().endswith(" 30")  # the demo's tiles, by the printed id
    # without the printed OAUTHLIB line, oauthlib refuses plain http: the line is needed
    del environment["OAUTHLIB_INSECURE_TRANSPORT"]
    refused = subprocess.run(
        [sys.executable, "-c", script], env=environment, capture_output=True, text=True
    )
    assert "InsecureTransportError" in refused.stderr


def test_the_printed_s3_lines_reach_the_local_endpoint(
    served_demo: Served, sample_folder: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    from byocframe.emulator.cogs import SAMPLE_PATTERN

    s3_env = served_demo.exported("For the local S3 endpoint")
    assert s3_env["AWS_ENDPOINT_URL_S3"].startswith("http://127.0.0.1:")
    environment = bare_environment(tmp_path) | s3_env
    script = "\n".join(
        [
            "import boto3, sys",
            "s3 = boto3.client('s3')",
            "s3.create_bucket(Bucket='tried')",
            "s3.upload_file(sys.argv[1], 'tried', 'tiles/valid/2024-06-01/B01.tif')",
        ]
    )
    upload = subprocess.run(
        [sys.executable, "-c", script, str(next(sample_folder[0].rglob("valid/*/B01.tif")))],
        env=environment,
        capture_output=True,
        text=True,
    )
    assert upload.returncode == 0, upload.stderr[-2000:]
    check = subprocess.run(
        [sys.executable, "-m", "byocframe", "check", "s3://tried/", "--pattern", SAMPLE_PATTERN],
        env=environment,
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stderr[-2000:]
    assert "no findings" in check.stdout


def test_the_byocframe_line_does_not_point_at_the_api_path(served_demo: Served) -> None:
    environment = served_demo.exported("For byocframe")
    first = served_demo.lines[0]
    assert environment["SH_BASE_URL"] == first.rsplit(" ", 1)[-1]
    assert not environment["SH_BASE_URL"].endswith("/api/v1/byoc")


def test_a_busy_port_says_how_to_choose_another(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert f"port {port} on 127.0.0.1 is taken" in err
    assert "--port 0" in err


def test_seeding_the_demo_is_said_before_the_wait() -> None:
    """Seeding 20,000 demo tiles takes seconds: a line on stderr says so first."""
    process = subprocess.Popen(
        [sys.executable, "-m", "byocframe", "serve", "--port", "0", "--demo", "--demo-tiles", "40"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    try:
        first = process.stdout.readline()  # the service is up
    finally:
        process.terminate()
        process.wait(timeout=30)
        said = process.stderr.read().splitlines()
        process.stdout.close()
        process.stderr.close()
    assert said
    assert said[0].startswith("byocframe serve: starting, with a 40-tile demo collection")
    assert first.startswith("byocframe local BYOC service at http://127.0.0.1:")

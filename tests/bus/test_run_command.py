"""``zwbus run`` as an operator starts it: gateway and projection together, stopped by Ctrl-C."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bus import server
from tests.adapters.helpers import case_row, write_item_catalogue, write_profile

ZWBUS = Path(sys.executable).parent / "zwbus"
TOKEN = "token-for-the-run-test"
WAIT_S = 60


def _zwbus(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ZWBUS), "--lang", "en", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=WAIT_S,
        check=False,
    )


def _post(port: int, record: dict[str, str]) -> dict[str, object]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/records/case",
        data=json.dumps(record).encode(),
        headers={"X-Zw-Client": "ga", "Authorization": f"Bearer {TOKEN}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        answer: dict[str, object] = json.load(response)
        return answer


def _case_rows(data_dir: Path) -> int:
    path = data_dir / "projections" / "cases.sqlite"
    if not path.exists():
        return 0
    with sqlite3.connect(path) as connection:
        try:
            return int(connection.execute("SELECT count(*) FROM cases").fetchone()[0])
        except sqlite3.OperationalError:
            return 0


def _returned_lines(folder: Path) -> list[str]:
    if not folder.exists():
        return []
    return [
        line
        for path in sorted(folder.rglob("*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line
    ]


def test_run_serves_and_stops_on_sigint(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = {**os.environ, "ZWBUS_DATA_DIR": str(data_dir)}
    env.pop("ZWBUS_NATS_URL", None)
    write_profile(tmp_path / "profile.toml")
    port = server.free_port()
    (tmp_path / "zwbus.toml").write_text(
        f"""
[run]
projections = ["cases"]

[gateway]
port = {port}

[[gateway.clients]]
id = "ga"
token_sha256 = "{hashlib.sha256(TOKEN.encode()).hexdigest()}"
regions = ["5116"]
profiles = {{ case = "profile.toml" }}

[[sink]]
id = "county-archive"
target = "file"
directory = "return"
[sink.filter]
regions = ["511602"]
families = ["case"]
""",
        encoding="utf-8",
    )
    imported = _zwbus(
        "items", "import", str(write_item_catalogue(tmp_path / "items.json")),
        env=env, cwd=tmp_path,
    )
    assert imported.returncode == 0, imported.stderr
    _zwbus("server", "stop", env=env, cwd=tmp_path)

    process = subprocess.Popen(
        [str(ZWBUS), "--lang", "en", "run"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = []
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            line = process.stdout.readline() if process.stdout else ""
            lines.append(line)
            if "Gateway listening" in line or not line:
                break
        assert any("Gateway listening" in line for line in lines), lines

        answer = _post(port, case_row("RUN1", "submitted", "2024-03-01 09:00:00"))
        assert answer["totals"] == {"stored": 1}
        for _attempt in range(100):
            if _case_rows(data_dir) == 1:
                break
            time.sleep(0.1)
        assert _case_rows(data_dir) == 1
        for _attempt in range(100):
            if _returned_lines(tmp_path / "return"):
                break
            time.sleep(0.1)
        assert len(_returned_lines(tmp_path / "return")) == 1

        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=WAIT_S)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=WAIT_S)

    assert process.returncode == 130, err
    assert "Stopped; every part finished its current work." in out
    assert "Interrupted; work acknowledged so far is kept." in err
    assert "Started projection cases" in "".join(lines) + out
    assert "Started sink county-archive" in "".join(lines) + out
    assert server.read_info(data_dir) is None


def test_run_rejects_misspelt_run_key(tmp_path: Path) -> None:
    """A misspelt key stops zwbus run before it starts a server or any projection."""
    data_dir = tmp_path / "data"
    env = {**os.environ, "ZWBUS_DATA_DIR": str(data_dir)}
    env.pop("ZWBUS_NATS_URL", None)
    env.pop("ZWBUS_CONFIG", None)
    (tmp_path / "zwbus.toml").write_text('[run]\nprojection = ["cases"]\n', encoding="utf-8")

    result = _zwbus("run", env=env, cwd=tmp_path)

    assert result.returncode == 1, result.stdout
    assert "unknown field `projection` - at `$.run`" in result.stderr
    assert "[run] takes projections" in result.stderr
    assert "Started projection" not in result.stdout
    assert server.read_info(data_dir) is None


def test_run_help_names_tables() -> None:
    result = subprocess.run(
        [str(ZWBUS), "--lang", "en", "run", "--help"],
        capture_output=True,
        text=True,
        timeout=WAIT_S,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    for table in ("[gateway]", "[[sink]]", "[run] pollers", "[run] projections"):
        assert table in result.stdout
    assert "130" in result.stdout

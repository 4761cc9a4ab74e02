"""A Ctrl-C while the command loads or waits for the server ends without a traceback."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from bus import server

WAIT_S = 20.0


@pytest.mark.parametrize("delay_s", [0.3, 0.7, 1.2])
def test_ctrl_c_while_starting_exits_130(delay_s: float) -> None:
    # Nothing listens on the port, so the command keeps trying to connect
    # for about two seconds after it has loaded.
    url = f"nats://127.0.0.1:{server.free_port()}"
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from bus.entry import main; main()",
            "--lang",
            "en",
            "--nats-url",
            url,
            "lag",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(delay_s)
        process.send_signal(signal.SIGINT)
        _out, err = process.communicate(timeout=WAIT_S)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=WAIT_S)

    assert process.returncode == 130, err
    assert "Traceback" not in err

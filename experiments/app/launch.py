"""``winback app``: the Streamlit server for ``main.py``, on this machine only unless told.

Rules: the address and port are checked before the server starts (a port in use is named
with ``--port``, not left to a traceback); usage statistics are off, so the app sends
nothing anywhere; the config folder and results folder reach the pages through the
environment (``WINBACK_APP_CONFIG_DIR``, ``WINBACK_APP_OUT``).
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
from pathlib import Path

MAIN = Path(__file__).with_name("main.py")
LOCAL = ("127.0.0.1", "localhost", "::1")


def server_command(address: str, port: int, open_browser: bool = False) -> list[str]:
    """The ``streamlit run`` command line."""
    return [
        sys.executable, "-m", "streamlit", "run", str(MAIN),
        "--server.address", address,
        "--server.port", str(port),
        "--server.headless", "false" if open_browser else "true",
        "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none",
        "--global.developmentMode", "false",
        "--client.toolbarMode", "minimal",
        "--theme.base", "light",
    ]  # fmt: skip


def check_address(address: str, port: int) -> None:
    """A port from 1 to 65535 that is free on an address this machine has."""
    if not 1 <= port <= 65535:
        raise ValueError(f"--port: {port}; allowed: a port from 1 to 65535 (e.g. 8501)")
    if address != "localhost":
        try:
            ipaddress.ip_address(address)
        except ValueError:
            raise ValueError(
                f"--address: {address!r} is not an IP address; allowed: 127.0.0.1 (this "
                "machine only, the default), or one of this machine's addresses"
            ) from None
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((address, port))
        except OSError as err:
            raise ValueError(
                f"--port: {port} on {address} cannot be used ({err.strerror}); allowed: a "
                "free port (another winback app may be running: --port 8502)"
            ) from None


def launch(address: str, port: int, config_dir: Path, out: Path, open_browser: bool) -> int:
    """Check, then become the server (``exec``: stopping this process stops the app)."""
    check_address(address, port)
    if address not in LOCAL:
        print(
            f"note: --address {address}: anyone who can reach this machine can use the app "
            "and run simulations here",
            file=sys.stderr,
        )
    env = {
        **os.environ,
        "WINBACK_APP_CONFIG_DIR": str(config_dir),
        "WINBACK_APP_OUT": str(out),
    }
    print(f"winback app: http://{address}:{port} (Ctrl-C stops it)", flush=True)
    command = server_command(address, port, open_browser)
    os.execve(command[0], command, env)  # the server takes this process: a signal reaches it

"""Print the URL of a local service that answers, or nothing (used by the Makefile).

python scripts/services.py postgres   → postgres://root@127.0.0.1:5432/test
python scripts/services.py redis      → redis://127.0.0.1:6379/0
"""

from __future__ import annotations

import socket
import sys

CANDIDATES = {
    "postgres": ("127.0.0.1", 5432, "postgres://root@127.0.0.1:5432/test"),
    "redis": ("127.0.0.1", 6379, "redis://127.0.0.1:6379/0"),
}


def answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


if __name__ == "__main__":
    host, port, url = CANDIDATES[sys.argv[1]]
    if answers(host, port):
        print(url)

"""A Calypso server for the end-to-end tests: the real binary on 127.0.0.1, port 0."""

import os
import re
import subprocess
import tempfile
import threading

import pytest


class CalypsoServer:
    def __init__(self, data_dir: str, extra_args=()):
        self.data_dir = data_dir
        self.extra_args = list(extra_args)
        self.proc = None
        self.url = None
        self.log_lines = []

    def start(self):
        binary = os.environ.get("CALYPSO_BIN")
        assert binary, "CALYPSO_BIN must name the calypso binary"
        self.proc = subprocess.Popen(
            [binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", self.data_dir, *self.extra_args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for line in self.proc.stdout:
            self.log_lines.append(line)
            m = re.search(r"Calypso listening on (http://\S+)", line)
            if m:
                self.url = m.group(1)
                break
        assert self.url, "the server did not start:\n" + "".join(self.log_lines)
        threading.Thread(target=self._drain, daemon=True).start()
        return self

    def _drain(self):
        for line in self.proc.stdout:
            self.log_lines.append(line)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)

    def restart(self):
        self.stop()
        return self.start()


@pytest.fixture(scope="module")
def server():
    with tempfile.TemporaryDirectory(prefix="calypso-e2e-") as d:
        s = CalypsoServer(d).start()
        try:
            yield s
        finally:
            s.stop()

"""A headless Chromium driven over the Chrome DevTools protocol (a helper module for the browser tests).

Only what the tests need: open a page, evaluate JavaScript, set files on ``<input type=file>``,
take a screenshot, and record every network request the page makes.
"""
from __future__ import annotations

import base64
import itertools
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import websocket

CHROMIUM = Path("/usr/bin/chromium")


class BrowserError(RuntimeError):
    pass


class Browser:
    """One headless Chromium process with one page; use as a context manager."""

    def __init__(self, executable: Path = CHROMIUM, width: int = 1280, height: int = 2000,
                 extra_args: Sequence[str] = ()) -> None:
        self.executable = executable
        self.extra_args = list(extra_args)  # e.g. fake camera / microphone flags
        self.size = (width, height)
        self.requests: list[str] = []
        self.console: list[str] = []
        self._ids = itertools.count(1)
        self._events: list[dict] = []

    def __enter__(self) -> Browser:
        self._profile = Path(tempfile.mkdtemp(prefix="cdp-profile-"))
        w, h = self.size
        self._proc = subprocess.Popen(
            [str(self.executable), "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--metrics-recording-only", "--mute-audio",
             "--autoplay-policy=no-user-gesture-required", f"--window-size={w},{h}",
             f"--user-data-dir={self._profile}", "--remote-debugging-address=127.0.0.1",
             "--remote-debugging-port=0", *self.extra_args, "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            port = self._wait_port()
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
                targets = json.load(r)
            page = next(t for t in targets if t.get("type") == "page")
            self._ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=30, suppress_origin=True)
            self.send("Page.enable")
            self.send("Runtime.enable")
            self.send("Network.enable")
            self.send("Emulation.setDeviceMetricsOverride", width=w, height=h, deviceScaleFactor=1, mobile=False)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _wait_port(self, timeout: float = 60.0) -> int:
        marker = self._profile / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise BrowserError(f"chromium exited with status {self._proc.returncode}")
            if marker.is_file():
                lines = marker.read_text().split()
                if lines:
                    return int(lines[0])
            time.sleep(0.1)
        raise BrowserError("chromium did not open its DevTools port")

    def __exit__(self, *exc) -> None:
        ws = getattr(self, "_ws", None)
        if ws is not None:
            try:
                ws.close()
            except Exception:
                pass
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        # Chromium's helper processes may still be writing into the profile for a moment.
        for _ in range(20):
            shutil.rmtree(self._profile, ignore_errors=True)
            if not self._profile.exists():
                break
            time.sleep(0.1)

    # --- protocol -------------------------------------------------------------------------------
    def _note(self, msg: dict) -> None:
        method = msg.get("method")
        if method == "Network.requestWillBeSent":
            self.requests.append(msg["params"]["request"]["url"])
        elif method == "Runtime.consoleAPICalled":
            args = msg["params"].get("args", [])
            self.console.append(" ".join(str(a.get("value", a.get("description", ""))) for a in args))
        self._events.append(msg)

    def send(self, method: str, **params: Any) -> dict:
        """Send one command and return its result (events that arrive meanwhile are recorded)."""
        mid = next(self._ids)
        self._ws.send(json.dumps({"id": mid, "method": method, "params": params}))
        while True:
            msg = json.loads(self._ws.recv())
            if msg.get("id") == mid:
                if "error" in msg:
                    raise BrowserError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self._note(msg)

    def evaluate(self, expression: str, await_promise: bool = False) -> Any:
        """The JSON value of a JavaScript expression in the page."""
        res = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=await_promise)
        if "exceptionDetails" in res:
            raise BrowserError(f"JavaScript error: {res['exceptionDetails'].get('text')} in {expression[:80]}")
        return res["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 60.0, interval: float = 0.25) -> Any:
        """Poll ``expression`` until it is truthy; returns its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise BrowserError(f"timed out after {timeout:g} s waiting for: {expression}")
            time.sleep(interval)

    # --- page actions ---------------------------------------------------------------------------
    def open(self, url: str, ready: str = "document.readyState === 'complete'", timeout: float = 60.0) -> None:
        self.send("Page.navigate", url=url)
        self.wait_for(ready, timeout)

    def set_files(self, selector: str, *paths: Path) -> None:
        """Put files on the ``<input type=file>`` matched by the CSS ``selector`` (as a user's file dialog)."""
        doc = self.send("DOM.getDocument", depth=-1, pierce=True)
        found = self.send("DOM.querySelector", nodeId=doc["root"]["nodeId"], selector=selector)
        if not found.get("nodeId"):
            raise BrowserError(f"no element matches {selector!r}")
        self.send("DOM.setFileInputFiles", nodeId=found["nodeId"], files=[str(Path(p).resolve()) for p in paths])

    def click(self, selector: str) -> None:
        if not self.evaluate(f"(() => {{ const e = document.querySelector({json.dumps(selector)}); "
                             "if (!e) return false; e.click(); return true; })()"):
            raise BrowserError(f"no element matches {selector!r}")

    def screenshot(self, path: Path) -> Path:
        data = self.send("Page.captureScreenshot", format="png", captureBeyondViewport=False)["data"]
        path.write_bytes(base64.b64decode(data))
        return path

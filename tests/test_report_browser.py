"""report.html in headless Chromium (issue 21): a flame-graph SVG from the results reaches no
listener on 127.0.0.1 and cannot change or navigate the page; FlameGraph's own search works.

Chromium is driven over the DevTools protocol on a pipe (--remote-debugging-pipe: JSON
messages ending in a NUL byte on fds 3 and 4), so no WebSocket client is needed."""

import fcntl
import json
import os
import re
import select
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from test_collect_report import write_characterised_sweep

from collect.pipeline import summarize
from collect.report import CONTENT_SECURITY_POLICY, REPORT_FILE, script_hash

pytestmark = pytest.mark.e2e

FOLDED = Path(__file__).parent / "data" / "perf-script" / "llama2c-omp-t2-dwarf.folded"
FLAME_GRAPH_SVG = "profiles/local-stories15M-fastest/flamegraph.svg"
CHROMIUM_OPTIONS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-pipe",
    "--window-size=1600,1000",  # a flame graph's width, 1200 pixels, and more
)


class Chromium:
    """A headless Chromium with a fresh profile, and the DevTools protocol on a pipe."""

    def __init__(self, profile: Path):
        commands, self._to_browser = os.pipe()
        self._from_browser, replies = os.pipe()
        # above fd 4, so that the redirections to 3 and 4 below overwrite neither
        commands, replies = (
            fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (commands, replies)
        )
        self.process = subprocess.Popen(
            ["bash", "-c", f'exec chromium "$@" 3<&{commands} 4>&{replies}', "chromium"]
            + [*CHROMIUM_OPTIONS, f"--user-data-dir={profile}", "about:blank"],
            pass_fds=(commands, replies),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(commands)
        os.close(replies)
        self._buffer = b""
        self._last_id = 0
        self.events: list[dict] = []

    def close(self) -> None:
        self.process.kill()
        self.process.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)

    def post(self, method: str, session: str | None = None, **params) -> int:
        """Sends a command; its id (the reply, when read, goes with the events)."""
        self._last_id += 1
        message = {"id": self._last_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        return self._last_id

    def send(self, method: str, session: str | None = None, **params) -> dict:
        """Sends a command and waits for its reply."""
        sent = self.post(method, session, **params)
        while (reply := self._receive(deadline=time.monotonic() + 30)).get("id") != sent:
            self.events.append(reply)
        assert "error" not in reply, reply
        return reply["result"]

    def wait_for(self, method: str, seconds: float) -> dict | None:
        """The params of the first event method seen (before or within seconds), or None."""
        deadline = time.monotonic() + seconds
        while True:
            for event in self.events:
                if event.get("method") == method:
                    self.events.remove(event)
                    return event
            try:
                self.events.append(self._receive(deadline))
            except TimeoutError:
                return None

    def _receive(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_browser], [], [], left)[0]:
                raise TimeoutError
            chunk = os.read(self._from_browser, 1 << 16)
            assert chunk, "Chromium closed the DevTools pipe"
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def open(self, url: str) -> "Page":
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        # The sandboxed frames are documents of other processes: attached targets of their own.
        self.send(
            "Target.setAutoAttach",
            session,
            autoAttach=True,
            waitForDebuggerOnStart=False,
            flatten=True,
        )
        self.send("Page.enable", session)
        self.send("Page.navigate", session, url=url)
        assert self.wait_for("Page.loadEventFired", 30) is not None
        return Page(self, session)


class Page:
    def __init__(self, browser: Chromium, session: str):
        self.browser, self.session = browser, session

    def evaluate(self, expression: str, session: str | None = None) -> object:
        reply = self.browser.send(
            "Runtime.evaluate", session or self.session, expression=expression, returnByValue=True
        )
        assert "exceptionDetails" not in reply, reply
        return reply["result"].get("value")

    def frames(self) -> list[str]:
        """The sessions of the page's frames, in the order they were attached."""
        sessions = []
        while event := self.browser.wait_for("Target.attachedToTarget", 1):
            if event["params"]["targetInfo"]["type"] == "iframe":
                sessions.append(event["params"]["sessionId"])
        return sessions

    def click(self, x: float, y: float) -> None:
        """A click as a user makes it (the page in front, the mouse moved there first); not
        waited for: a dialog it opens holds its reply."""
        self.browser.send("Page.bringToFront", self.session)
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.browser.post(
                "Input.dispatchMouseEvent",
                self.session,
                type=kind,
                x=x,
                y=y,
                button="left",
                clickCount=1,
            )


class Listener:
    """A TCP listener on 127.0.0.1 that records every connection made to it."""

    def __init__(self):
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        self.connections: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            with connection:
                connection.settimeout(2)
                try:
                    self.connections.append(connection.recv(200))
                    connection.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
                except OSError:
                    self.connections.append(b"(connected, nothing sent)")


@pytest.fixture
def chromium(tmp_path):
    if shutil.which("chromium") is None:
        pytest.skip("chromium not installed (Debian's chromium package; .ci/run installs it)")
    browser = Chromium(tmp_path / "chromium-profile")
    yield browser
    browser.close()


@pytest.fixture
def listener():
    server = Listener()
    yield server
    server.socket.close()


def hostile_svg(url: str) -> str:
    """Only elements flamegraph.pl writes, and a script that tries everything it may."""
    return f"""<?xml version="1.0" standalone="no"?>
<svg version="1.1" width="600" height="200" onload="fetch('{url}/onload')"
 xmlns="http://www.w3.org/2000/svg">
<style type="text/css">rect {{ fill: url({url}/style); }}</style>
<script type="text/ecmascript"><![CDATA[
fetch("{url}/fetch");
new Image().src = "{url}/image";
var request = new XMLHttpRequest(); request.open("GET", "{url}/xhr"); request.send();
try {{ parent.document.body.textContent = "changed by the SVG"; }} catch (error) {{}}
try {{ top.location = "{url}/top"; }} catch (error) {{}}
try {{ window.open("{url}/popup"); }} catch (error) {{}}
setTimeout(function () {{ location = "{url}/frame"; }}, 100);
]]></script>
<g><title>hostile</title><rect x="0" y="0" width="600" height="200" /></g>
</svg>
"""


def browse(chromium, results: Path) -> Page:
    summarize(results)
    return chromium.open((results / REPORT_FILE).as_uri())


def test_a_hostile_flame_graph_reaches_nothing_and_leaves_the_page_alone(
    chromium, listener, tmp_path
):
    results = write_characterised_sweep(tmp_path / "results" / "20261125-131500")
    (results / FLAME_GRAPH_SVG).write_text(hostile_svg(listener.url))
    page = browse(chromium, results)
    url = page.evaluate("location.href")
    (frame,) = page.frames()
    # Were a script to run there anyway (DevTools runs one past the policy), the sandbox
    # keeps it from the page and the policy from the network.
    assert (
        page.evaluate(
            "(function () { try { return parent.document.title; } catch (error) {"
            " return error.name; } })()",
            frame,
        )
        == "SecurityError"
    )
    page.evaluate(
        f"try {{ top.location = '{listener.url}/devtools-top'; }} catch (error) {{}}"
        f" fetch('{listener.url}/devtools-fetch').catch(function () {{}}); 0",
        frame,
    )
    time.sleep(3)  # the script's timer and any request time to arrive
    assert listener.connections == []
    assert page.evaluate("location.href") == url
    assert page.evaluate("document.querySelector('h1').textContent").startswith(
        "llamasweep report: sweep 20261125-131500"
    )
    assert page.evaluate("document.querySelectorAll('iframe').length") == 1


def test_markup_that_connects_without_a_script_is_not_shown(chromium, listener, tmp_path):
    # A meta refresh and a preconnect open a connection that no Content-Security-Policy forbids.
    results = write_characterised_sweep(tmp_path / "results" / "20261125-131500")
    (results / FLAME_GRAPH_SVG).write_text(
        hostile_svg(listener.url).replace(
            "<g>",
            f'<meta http-equiv="refresh" content="0;url={listener.url}/refresh">'
            f'<link rel="preconnect" href="{listener.url}"><g>',
        )
    )
    page = browse(chromium, results)
    assert page.frames() == []
    time.sleep(2)
    assert listener.connections == []
    assert (
        "flamegraph.svg not shown: it holds &lt;link&gt;, &lt;meta&gt;, which FlameGraph"
        in (results / REPORT_FILE).read_text()
    )


@pytest.fixture
def flamegraph_pl(tmp_path) -> Path:
    """flamegraph.pl of the offline bundle (what the sweep renders with)."""
    bundle = os.environ.get("LLAMASWEEP_TEST_FLAMEGRAPH")
    if not bundle:
        pytest.skip("LLAMASWEEP_TEST_FLAMEGRAPH (FlameGraph's offline bundle) not set")
    checkout = tmp_path / "FlameGraph"
    subprocess.run(["git", "clone", "--quiet", bundle, checkout], check=True)
    return checkout / "flamegraph.pl"


def test_a_real_flame_graph_searches_and_zooms(chromium, flamegraph_pl, tmp_path):
    results = write_characterised_sweep(tmp_path / "results" / "20261125-131500")
    with open(results / FLAME_GRAPH_SVG, "w") as svg:
        subprocess.run(
            ["perl", flamegraph_pl, "--title", "stories15M O3-openmp t2", FOLDED],
            stdout=svg,
            check=True,
        )
    script = re.search(
        r'<script type="text/ecmascript">(.*?)</script>',
        (results / FLAME_GRAPH_SVG).read_text(),
        re.S,
    ).group(1)
    digest = script_hash(script.replace("<![CDATA[", "").replace("]]>", ""))
    assert digest in CONTENT_SECURITY_POLICY, f"add {digest} to FLAMEGRAPH_SCRIPT_HASHES"
    page = browse(chromium, results)
    (frame,) = page.frames()
    browser = page.browser
    assert page.evaluate("typeof init", frame) == "function", "FlameGraph's script is blocked"
    browser.send("Page.enable", frame)
    # FlameGraph's "Search" (its top right, x 1090, y 13 to 27) clicked as a user clicks it,
    # once the scrolled page has settled.
    page.evaluate("document.querySelector('iframe').scrollIntoView()")
    time.sleep(1)
    left, top = page.evaluate(
        "(function () { var box = document.querySelector('iframe').getBoundingClientRect();"
        " return [box.left + 2, box.top + 2]; })()"  # inside its 2-pixel border
    )
    page.click(left + 1100, top + 20)
    dialog = browser.wait_for("Page.javascriptDialogOpening", 10)
    assert dialog is not None, "no search prompt"
    assert dialog["params"]["message"].startswith("Enter a search term")
    browser.send("Page.handleJavaScriptDialog", page.session, accept=True, promptText="matmul")
    assert page.evaluate("document.getElementById('matched').textContent", frame).startswith(
        "Matched: "
    )
    assert (
        page.evaluate("document.querySelectorAll('rect[fill=\"rgb(230,0,230)\"]').length", frame)
        > 0
    )
    # Zoom: a click on a frame above the root (one of matmul's) shows "Reset Zoom".
    x, y = page.evaluate(
        "(function () { var rect = document.querySelector('rect[fill=\"rgb(230,0,230)\"]');"
        " var box = rect.getBoundingClientRect(); return [box.x + box.width / 2,"
        " box.y + box.height / 2]; })()",
        frame,
    )
    page.click(left + x, top + y)
    assert browser.wait_for("Nothing", 1) is None  # the click's time to take effect
    assert not page.evaluate(
        "document.getElementById('unzoom').classList.contains('hide')", frame
    ), "no zoom"

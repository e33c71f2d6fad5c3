"""Running code in a kernel of a fork server, as the executors run a notebook, for the isolation tests
(test_isolation.py, test_redteam_isolation.py), and reading the tagged JSON line it prints."""

from __future__ import annotations

import asyncio
import json

from infraprep.grading import forkserver


def run(fs: forkserver.ForkServer, code: str, timeout: float = 120) -> str:
    """Run ``code`` in a new kernel of ``fs``, as the executors run a notebook (the sandbox is reset
    after it, and replaced first if a reset found it tainted); what it printed, errors included."""
    fs.ensure()

    async def go():
        km = fs.kernel_manager("python3")
        await km.start_kernel(extra_arguments=["--HistoryManager.hist_file=:memory:"])
        kc = km.client()
        kc.start_channels()
        out = []

        def hook(msg):
            content = msg["content"]
            if msg["msg_type"] == "stream":
                out.append(content.get("text", ""))
            elif msg["msg_type"] == "error":
                out.append("ERROR " + content.get("ename", "") + ": " + content.get("evalue", ""))

        try:
            await kc.wait_for_ready(timeout=60)
            await kc.execute_interactive(code, timeout=timeout, output_hook=hook)
        finally:
            kc.stop_channels()
            fs.finish(km)
        return "".join(out)

    return asyncio.run(go())


def last_json(out: str, tag: str) -> dict:
    """The JSON after the last line that starts with ``tag`` and a space (the notebook's report)."""
    lines = [line for line in out.splitlines() if line.startswith(tag + " ")]
    assert lines, f"the notebook did not report {tag} ({out[-2000:]})"
    return json.loads(lines[-1][len(tag) + 1:])

"""Process lifecycle: the stop signals and the exit without interpreter teardown."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

from parcours.application.lifecycle import install_stop_handlers


async def test_sigterm_sets_the_stop_event() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    install_stop_handlers(stop)
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(stop.wait(), 5)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def test_end_process_flushes_and_exits_with_the_code() -> None:
    script = (
        "import sys\n"
        "from parcours.application.lifecycle import end_process\n"
        "print('out', end='')\n"
        "print('err', end='', file=sys.stderr)\n"
        "end_process(7)\n"
        "print('never')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (7, "out", "err")


def test_a_second_signal_ends_at_once() -> None:
    """People press Ctrl-C twice when a graceful stop takes too long."""
    script = (
        "import asyncio, os, signal\n"
        "from parcours.application.lifecycle import install_stop_handlers\n"
        "async def main():\n"
        "    stop = asyncio.Event()\n"
        "    install_stop_handlers(stop)\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    await stop.wait()\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    await asyncio.sleep(30)\n"
        "asyncio.run(main())\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert proc.returncode == 130

#!/usr/bin/env python3
"""Drives a program in a pseudo-terminal, as a person at a keyboard would.

Usage: pty_driver.py STEPS_JSON -- COMMAND [ARGS...]

The terminal is 50 rows by 160 columns, or PTY_COLUMNS columns.

STEPS_JSON is a list of steps, each one of:
  {"send": "text"}                  type the text (use "\\r" for Enter, "\\t" for Tab, "\\u0003" for Ctrl-C)
  {"expect": "text", "timeout": 30} wait until the text appears in the output since the last expect
  {"sleep": 0.5}                    wait
On success prints the transcript and exits 0; if an expectation is not met within its timeout,
prints what was seen and exits 1.
"""
import fcntl
import json
import os
import pty
import select
import struct
import sys
import termios
import time


def main():
    steps = json.loads(sys.argv[1])
    cmd = sys.argv[sys.argv.index("--") + 1:]
    columns = int(os.environ.get("PTY_COLUMNS", "160"))
    pid, fd = pty.fork()
    if pid == 0:
        # The size is set before the program starts, so its first look at it is right.
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
        env = dict(os.environ, TERM="xterm")
        env.pop("COLUMNS", None)
        os.execvpe(cmd[0], cmd, env)
    seen = b""
    mark = 0

    def pump(timeout):
        nonlocal seen
        ready, _, _ = select.select([fd], [], [], timeout)
        if ready:
            try:
                data = os.read(fd, 65536)
            except OSError:
                return False
            if not data:
                return False
            seen += data
        return True

    for step in steps:
        if "send" in step:
            os.write(fd, step["send"].encode())
        elif "sleep" in step:
            end = time.time() + step["sleep"]
            while time.time() < end:
                pump(0.05)
        elif "expect" in step:
            want = step["expect"].encode()
            end = time.time() + step.get("timeout", 30)
            while want not in seen[mark:]:
                if time.time() > end:
                    sys.stdout.write(seen.decode("utf-8", "replace"))
                    sys.stdout.write("\n--- expected %r; not seen within the timeout\n" % step["expect"])
                    os.kill(pid, 9)
                    sys.exit(1)
                if not pump(0.1):
                    time.sleep(0.05)
            mark = seen.index(want, mark) + len(want)
    # Let the program finish (it should have been told to quit).
    end = time.time() + 20
    status = None
    while time.time() < end:
        pump(0.1)
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
    else:
        sys.stdout.write(seen.decode("utf-8", "replace"))
        sys.stdout.write("\n--- the program did not exit within 20 s of the last step\n")
        os.kill(pid, 9)
        sys.exit(1)
    sys.stdout.write(seen.decode("utf-8", "replace"))
    sys.exit(0 if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0 else 2)


main()

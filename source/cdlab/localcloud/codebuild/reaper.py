"""A build's shell dies with the local cloud, and so does everything it started, even when the
cloud is killed by SIGKILL: the kit's processes never outlive it.

The shell does not start on its own: :func:`command` starts this file as a small Python program
(``python -I -S reaper.py``), the *reaper*, which leads the build's new session and process group
and starts the shell in it. The reaper asks Linux for :data:`SIGNAL` when the thread that
started it ends (``PR_SET_PDEATHSIG``; the build's worker thread lives as long as the build, so
that is when the cloud dies, SIGKILL included), and on that signal kills its whole process group
with SIGKILL: the shell, the running command and the command's own children, whatever their
depth, and what a command left in the background. Otherwise it only waits for the shell and exits
as the shell did (the same status, or killed by the same signal). It changes nothing the shell
sees: the shell inherits its standard input, output and error (the worker's three pipes; the
shell's fd 3 is its own copy of stderr), its directory, and the environment the worker gave,
read back from ``/proc/self/environ`` because Python's start-up coerces a C locale by setting
``LC_CTYPE``; the signals the reaper ignores or handles are reset to their defaults for the
shell. It never writes to standard error, which carries the commands' statuses; a shell that
cannot be started is said on standard output (the build log), status 127. StopBuild and the
timeout kill the group as before (the reaper is its leader), so they end it as well.

Why this way, over the alternatives:

- ``PR_SET_PDEATHSIG`` on the shell alone (``preexec_fn``) ends the shell, not the command it is
  waiting for (``sleep 300``, ``python train.py``) nor that command's children; the setting is
  not inherited across fork. A ``preexec_fn`` that forks again, to keep a copy of the cloud as
  the guard, saves the start-up but forks a threaded process and blocks ``Popen``, which waits
  for its child's exec.
- A watchdog inside the shell (a background loop polling the cloud's pid, then ``kill -9 0``)
  needs no new program but polls (a second of delay, a process and wake-ups for each shell),
  may be fooled by a reused pid, and would be a job the commands could see and ``wait`` for.
- One reaper process for the whole cloud (told each build's process group over a pipe) costs one
  start-up instead of one per shell, but must be told of every new shell and group, and a pgid it
  kills late could by then be another's.
- A cgroup holding the build (``cgroup.kill``) would catch even a command that starts a session
  of its own, but needs a delegated cgroup tree (systemd or root), which a workshop machine or a
  container may not give; and something must still notice the cloud's death.
- A pipe whose write end only the cloud holds (EOF when it dies) would work beyond Linux, but
  its end would leak into any child forked without exec, and the reaper would then have to
  watch two things at once (the pipe and its child).

The cost is one Python start-up (with ``-I -S``: no site, no user or environment settings) per
shell, some 15 to 40 ms on two busy cores against 1 to 6 ms for the shell alone: once per build
for a 0.2 buildspec, once per command for 0.1 (a shell for each command), and once more after a
command that ends its shell. The reaper's signal is SIGUSR1, not SIGTERM, and it ignores SIGTERM,
SIGINT, SIGHUP and SIGQUIT: a command's ``kill 0`` (``trap 'kill 0' EXIT``) signals the whole
group, and should end the shell as before, not the reaper (the group left unguarded). Outside
Linux (no ``PR_SET_PDEATHSIG``) :func:`command` starts the shell as it is, as before.

Not covered: a command that leaves the group (``setsid``, a daemon that starts its own session),
which StopBuild does not end either; and the moment between the shell's own end (an ``exit`` in
a command, with something left in the background) and the worker's ``killpg`` of the group just
after it, when the reaper has already exited.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1
SIGNAL = signal.SIGUSR1  # the cloud (the thread that started the reaper) has ended
# sent to the whole group by a command's ``kill 0`` (or a terminal's keys): for the shell to take
IGNORED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT)
# Python ignores these itself; a shell started with subprocess gets them back (restore_signals)
PYTHON_IGNORES = (signal.SIGPIPE, signal.SIGXFSZ)
NOT_STARTED = 127  # the shell's status when it could not be started, as a shell's for a command


def command(argv: list[str]) -> list[str]:
    """The command line that runs ``argv`` (a shell) under a reaper, for ``subprocess.Popen``
    with ``start_new_session=True``, from the thread the shell should not outlive; ``argv`` as
    it is outside Linux."""
    if not sys.platform.startswith("linux"):
        return argv
    return [sys.executable, "-I", "-S", __file__, str(os.getpid()), *argv]


def main(args: list[str]) -> int:
    """``args``: the cloud's pid and the shell's command line. The shell's exit status."""
    parent, argv = int(args[0]), args[1:]
    signal.signal(SIGNAL, _end_group)  # before asking for it: no moment when it would just kill
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, SIGNAL, 0, 0, 0) != 0:
        _say(f"cannot ask to die with the local cloud: {os.strerror(ctypes.get_errno())}")
    if os.getppid() != parent:  # the cloud died before the prctl: no signal will come
        _end_group()
    for number in IGNORED:
        signal.signal(number, signal.SIG_IGN)
    pid = os.fork()  # not posix_spawn, which leaves glibc's own signals (32, 33) ignored
    if pid == 0:
        _exec_shell(argv)
    _, status = os.waitpid(pid, 0)  # retried after a signal whose handler returns (PEP 475)
    code = os.waitstatus_to_exitcode(status)
    if code < 0:  # killed by a signal: die of it too, so that the worker sees the same
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
        code = 128 - code
    return code


def _exec_shell(argv: list[str]) -> None:
    """In the reaper's child: become the shell, with the signals' default dispositions."""
    try:
        for number in (SIGNAL, *IGNORED, *PYTHON_IGNORES):
            signal.signal(number, signal.SIG_DFL)
        os.execvpe(argv[0], argv, _environment())
    except OSError as e:
        _say(f"cannot start {argv[0]}: {e.strerror}")
    finally:
        os._exit(NOT_STARTED)  # never back into main: this is not the reaper


def _end_group(*_: object) -> None:
    """Kill the reaper's process group: the shell and all it started, the reaper too."""
    os.killpg(os.getpgrp(), signal.SIGKILL)


def _environment() -> dict[bytes, bytes]:
    """The environment this process was started with (before Python's start-up changed it)."""
    with open("/proc/self/environ", "rb") as file:
        entries = file.read().split(b"\0")
    return dict(entry.split(b"=", 1) for entry in entries if b"=" in entry)


def _say(text: str) -> None:
    """Write to standard output (the build log): standard error carries the statuses."""
    os.write(1, f"[cdlab] {text}\n".encode())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The shell a build's commands run in, as CodeBuild runs them: one for all of a 0.2 buildspec.

Buildspec version 0.1 "runs each build command in a separate instance of the default shell";
0.2 "runs all build commands in the same instance of the default shell", so a directory one
command changes to and the variables it sets (exported or not) are there for the next
command, in the next phases too
(https://docs.aws.amazon.com/codebuild/latest/userguide/build-spec-ref.html#build-spec-ref-versions).
The default shell is ``sh``; ``env: shell: bash`` asks for bash
(https://docs.aws.amazon.com/codebuild/latest/userguide/build-env-ref-cmd.html: "any Shell
Command Language (sh) command").

Here one long-lived shell process, in a process group of its own (so StopBuild and the timeout
end all of it) that dies with the local cloud, even a SIGKILLed one (:mod:`reaper` leads the group
and starts the shell), reads the path of a file holding the next command on its standard input,
sources the file (its standard input /dev/null) and writes the command's exit status on a pipe
of its own; the command's output (stdout and stderr) streams into the log as it comes. A command
that ends the shell itself (``exit 3``, a syntax error under dash, ``exec``) ends only that
command, with that status, as on CodeBuild, where ``exit`` in a command fails that command and
the build goes on: the shell saves its variables and directory as it exits, and a new one, set up
with them, runs the next command. What the ended shell left running in the background is ended
with it.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import selectors
import shlex
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Protocol

from cdlab.localcloud.codebuild import reaper

# the buildspec's env/shell on Linux and the program that runs it
SHELLS = {"bash": "bash", "/bin/sh": "/bin/sh"}
DEFAULT_SHELL = "/bin/sh"

# bash's own variables, which a new bash sets itself (some are read-only)
_BASH_OWN = (
    "BASH*|EUID|UID|PPID|SHELLOPTS|FUNCNAME|GROUPS|LINENO|RANDOM|SRANDOM|SECONDS|EPOCH*|"
    "PIPESTATUS|DIRSTACK|HISTCMD|SHLVL|PWD|OLDPWD|COMP_*|__cdlab_*|_"
)
# $1: the directory of the command files and of the saved state. The status goes to fd 3, the
# original stderr; stderr becomes stdout. The command sees neither fd 3 nor the command list.
DRIVER = (
    """__cdlab_dir=$1
set --
exec 3>&2 2>&1
if [ -f "$__cdlab_dir/restore" ]; then
  . "$__cdlab_dir/restore" 2>/dev/null
  IFS= read -r __cdlab_cwd < "$__cdlab_dir/cwd" && cd "$__cdlab_cwd" 2>/dev/null
fi
. "$__cdlab_dir/overrides"
__cdlab_save() {
  pwd > "$__cdlab_dir/cwd"
  if [ -n "${BASH_VERSION-}" ]; then
    for __cdlab_n in $(compgen -v); do
      case $__cdlab_n in """
    + _BASH_OWN
    + """) ;; *) declare -p "$__cdlab_n" ;; esac
    done
  else
    set
    export -p
  fi > "$__cdlab_dir/state"
}
trap '__cdlab_s=$?; __cdlab_save 2>/dev/null; exit $__cdlab_s' EXIT
while IFS= read -r __cdlab_f; do
  . "$__cdlab_f" </dev/null 3>&-
  command printf '%s\\n' "$?" >&3
done
"""
)
DRAIN_READS = 64  # at most this many reads of what is left once a command has ended
POLL_SECONDS = 0.05  # how often to look whether a shell that closed its status pipe has ended


class Output(Protocol):
    """Where the commands' output goes: the build's log (``buildspec.Log``)."""

    def write(self, text: str, /) -> int: ...

    def flush(self) -> None: ...


class Watcher(Protocol):
    """What may stop the build: told of each shell process, it kills its group when it stops."""

    stopped: str | None

    def started(self, process: subprocess.Popen[bytes]) -> None: ...


class Shell:
    """A build's shell: :meth:`run` a command, :meth:`export` a variable, :meth:`close` it.
    ``shared`` False starts a shell for each command (buildspec 0.1)."""

    def __init__(
        self, program: str, cwd: Path, env: dict[str, str], log: Output, watcher: Watcher,
        shared: bool = True,
    ) -> None:  # fmt: skip
        self.program, self.cwd, self.env, self.log = program, cwd, env, log
        self.watcher, self.shared = watcher, shared
        self.dir = Path(tempfile.mkdtemp(prefix="cdlab-codebuild-"))
        (self.dir / "overrides").write_text("")
        self.overrides: dict[str, str] = {}
        self.process: subprocess.Popen[bytes] | None = None
        self.count = 0
        self.newline = True  # the output so far ends a line

    def run(self, command: str) -> int:
        """Run ``command``, its output into the log; its exit status."""
        self.count += 1
        path = self.dir / f"command-{self.count}.sh"
        path.write_text(command + "\n")
        code = self._source(path)
        if not self.newline:
            self.log.write("\n")
            self.newline = True
        self.log.flush()
        if not self.shared:
            self._end()
        return code

    def export(self, name: str, value: str) -> None:
        """Set and export ``name`` for the commands that follow (and any later shell)."""
        self.overrides[name] = value
        lines = "".join(f"export {n}={shlex.quote(v)}\n" for n, v in self.overrides.items())
        (self.dir / "overrides").write_text(lines)
        if self.process is not None:
            self._source(self.dir / "overrides")

    def close(self) -> None:
        """End the shell and whatever it left running; forget its files."""
        self._end()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _start(self) -> subprocess.Popen[bytes]:
        """A new shell, set up with what the last one saved as it exited (not for 0.1)."""
        saved, restore = self.dir / "state", self.dir / "restore"
        restore.unlink(missing_ok=True)
        if saved.exists() and self.shared:
            saved.replace(restore)
        saved.unlink(missing_ok=True)
        argv = [self.program, "-c", DRIVER, self.program, str(self.dir)]
        process = subprocess.Popen(
            reaper.command(argv), cwd=self.cwd,
            env={**self.env, **self.overrides}, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, start_new_session=True,
        )  # fmt: skip
        for stream in (process.stdout, process.stderr):
            assert stream is not None
            os.set_blocking(stream.fileno(), False)
        self.process = process
        self.watcher.started(process)
        return process

    def _source(self, path: Path) -> int:
        """Have the shell (a new one if there is none) source ``path``; its exit status."""
        if self.watcher.stopped is not None:
            return -signal.SIGKILL
        if self.process is not None and self.process.poll() is not None:
            self._end()  # it ended between two commands (killed, say): a new one runs this one
        process = self.process or self._start()
        assert process.stdin is not None
        try:
            process.stdin.write(f"{path}\n".encode())
            process.stdin.flush()
        except BrokenPipeError:
            pass  # the shell has ended: _wait finds out how
        code = self._wait(process)
        if code is None:  # the shell ended: that was the command's status
            code = process.wait()
            self._end()
        return code

    def _wait(self, process: subprocess.Popen[bytes]) -> int | None:
        """Stream the output until the shell reports the status; None if the shell ended."""
        assert process.stdout is not None and process.stderr is not None
        out, status = process.stdout.fileno(), process.stderr.fileno()
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        reported = b""
        with selectors.DefaultSelector() as selector:
            selector.register(out, selectors.EVENT_READ)
            selector.register(status, selectors.EVENT_READ)
            while True:
                ended = status not in selector.get_map()
                events = []
                if not selector.get_map():  # the shell has ended, or is ending
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        process.wait(POLL_SECONDS)
                else:
                    events = selector.select(POLL_SECONDS if ended else None)
                for key, _ in events:
                    data = _read(key.fd)
                    if data == b"":
                        selector.unregister(key.fd)
                    elif data is None:
                        continue
                    elif key.fd == out:
                        self._emit(decoder.decode(data))
                    else:
                        reported += data
                ended = status not in selector.get_map()
                if b"\n" in reported or (ended and process.poll() is not None):
                    self._drain(out, decoder)
                    return int(reported.split(b"\n")[0]) if b"\n" in reported else None

    def _drain(self, out: int, decoder: codecs.IncrementalDecoder) -> None:
        """Log what the command wrote before it ended (what it left running may write on)."""
        for _ in range(DRAIN_READS):
            data = _read(out)
            if not data:  # its end, or nothing more for now
                break
            self._emit(decoder.decode(data))
        self._emit(decoder.decode(b"", final=True))

    def _emit(self, text: str) -> None:
        if text:
            self.log.write(text)
            self.newline = text.endswith("\n")

    def _end(self) -> None:
        """End the shell's process group, what it left running in the background too."""
        process, self.process = self.process, None
        if process is None:
            return
        assert process.stdin is not None
        with contextlib.suppress(BrokenPipeError, OSError):
            process.stdin.close()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        for stream in (process.stdout, process.stderr):
            assert stream is not None
            stream.close()


def _read(fd: int) -> bytes | None:
    """What there is to read on the non-blocking ``fd``: b"" at its end, None if nothing yet."""
    try:
        return os.read(fd, 65536)
    except BlockingIOError:
        return None

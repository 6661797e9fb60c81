"""One botocore data loader per search path: sessions that share it parse each model once.

botocore gives every new session a loader of its own, and a loader parses the files it is asked
for (endpoints.json, some 1 MB, then each service's model) the first time it is asked; so a
process that makes a fresh session per client pays a tenth of a second or more per client. The
loader here is shared by such sessions: what one parsed, the next finds in its cache.

boto3 appends its own data directory to the loader of each session it sets up; appended to a
shared loader that would grow its search path once per session, so this loader lists boto3's
directory from the start and hands out a copy of its search path.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import boto3
from botocore.loaders import Loader

BOTO3_DATA = str(Path(boto3.__file__).parent / "data")


class SharedLoader(Loader):
    """A loader whose search path no session can extend (see the module's docstring)."""

    def __init__(self, extra_search_paths: list[str]) -> None:
        super().__init__(extra_search_paths=extra_search_paths)
        super().search_paths.append(BOTO3_DATA)

    @property
    def search_paths(self) -> list[str]:
        return list(super().search_paths)


@functools.cache
def shared_loader(data_path: str | None = None) -> Loader:
    """The process's loader for ``data_path`` (``AWS_DATA_PATH``'s form: directories joined by
    ``os.pathsep``, searched before botocore's own), made as ``botocore.loaders.create_loader``
    makes one."""
    extra = [] if data_path is None else data_path.split(os.pathsep)
    return SharedLoader([os.path.expanduser(os.path.expandvars(path)) for path in extra])

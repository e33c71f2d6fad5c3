"""Start bubblewrap as the sandbox's own unprivileged account when the grader is root.

Run by bubblewrap as root, the sandbox's user namespace maps the kernel's ``nobody`` onto root
outside: the kernel would own every host inode it can reach (the device nodes, the folders bound
into it) and the files it makes would be root's. So a root grader starts the sandbox as a dedicated
unprivileged account instead (:func:`.sandbox.sandbox_account`): files the kernel makes belong to
that account, and nothing of root's is its own.

That account may not be able to reach the folders the sandbox needs (a Python under ``/root``, a
course in a 0700 folder). This launcher, run as root with no other work to do, makes a private mount
namespace, binds every read-only source onto a world-traversable staging folder, drops to the
account (no groups, no capabilities) and runs bubblewrap on the staged paths. Nothing else changes
on the host: the staging binds exist only in that private namespace.

``python -c '...main()' SPEC COMMAND...``: SPEC is JSON ``{"uid", "gid", "stage", "sources", "argv"}``
(``argv``: the bubblewrap command up to its ``--``), every bind source in it that is one of ``sources``
is replaced by its staged path, and COMMAND follows. Standard library only.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys

CLONE_NEWNS = 0x00020000
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18


def _check(rc: int, libc, what: str) -> None:
    if rc != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def main(argv: list[str] | None = None) -> None:
    argv = list(argv or sys.argv)
    spec = json.loads(argv[1])
    libc = ctypes.CDLL(None, use_errno=True)
    _check(libc.unshare(CLONE_NEWNS), libc, "unshare the mount namespace")
    _check(libc.mount(None, b"/", None, ctypes.c_ulong(MS_REC | MS_PRIVATE), None), libc, "make mounts private")
    staged = {}
    for index, source in enumerate(spec["sources"]):
        if not os.path.exists(source):
            continue
        target = os.path.join(spec["stage"], str(index))
        if os.path.isdir(source):
            os.makedirs(target, exist_ok=True)
        else:
            open(target, "a").close()
        os.chmod(target, 0o755)
        _check(libc.mount(source.encode(), target.encode(), None, ctypes.c_ulong(MS_BIND | MS_REC), None),
               libc, f"stage {source}")
        staged[source] = target
    args = [staged.get(a, a) if i and spec["argv"][i - 1] in ("--ro-bind", "--ro-bind-try", "--bind") else a
            for i, a in enumerate(spec["argv"])] + argv[2:]  # the command the sandbox runs follows the spec
    os.setgroups([])
    os.setresgid(spec["gid"], spec["gid"], spec["gid"])
    os.setresuid(spec["uid"], spec["uid"], spec["uid"])
    os.execvp(args[0], args)


if __name__ == "__main__":  # pragma: no cover - run through ``python -c``
    main()

"""jupyter_client's side of the fork server: a kernel manager, provisioner and client for forked kernels.

nbclient starts and stops a notebook's kernel through these as it would any kernel: the provisioner
asks the :class:`.forkserver.ForkServer` to fork one (its pid is the kernel's init, which passes
signals on and exits with the kernel's status), and poll, signal and kill go through the fork server too.
"""

from __future__ import annotations

import os
import signal
import time
import uuid

from jupyter_client.asynchronous.client import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning.local_provisioner import LocalProvisioner

from .forkserver import ForkServer, ZygoteDied


class ZygoteProvisioner(LocalProvisioner):
    """A provisioner whose kernel process is forked by the zygote; poll, signal and kill go through it."""

    pid: int | None = None
    server: "ForkServer | None" = None

    @property
    def has_process(self) -> bool:
        return self.pid is not None

    async def launch_kernel(self, cmd: list[str], **kwargs):
        km = self.parent
        if km.scratch is None:  # a restart (after the kernel died) keeps the notebook's folder
            km.scratch = self.server.scratch(km.tag, kwargs.get("cwd"))
        scratch = km.scratch
        try:
            at = next(i for i, a in enumerate(cmd) if a == "-f")
        except StopIteration:
            at = len(cmd)
        argv = ["ipykernel_launcher"] + cmd[at:]
        self.server.hand_over(km.connection_file)
        self.pid = self.server.spawn(argv, scratch, getattr(km, "kernel_env", None), writable=[km.ipc_dir])
        return self.connection_info

    async def poll(self):
        if self.pid is None:
            return -9
        try:
            return self.server.request(op="poll", pid=self.pid)["status"]
        except (ZygoteDied, RuntimeError):
            self.server._dirty = True
            return -9

    async def wait(self):
        import asyncio

        while True:
            status = await self.poll()
            if status is not None:
                self.pid = None
                return status
            await asyncio.sleep(0.01)

    async def send_signal(self, signum: int) -> None:
        if self.pid is not None:
            try:
                self.server.request(op="signal", pid=self.pid, sig=int(signum))
            except (ZygoteDied, RuntimeError):
                self.server._dirty = True

    async def kill(self, restart: bool = False) -> None:
        if restart and self.pid is not None:  # the notebook goes on in a new kernel: end all it started
            try:
                self.server.request(op="killall")
            except (ZygoteDied, RuntimeError):
                self.server._dirty = True
            return
        await self.send_signal(signal.SIGKILL)

    async def terminate(self, restart: bool = False) -> None:
        await self.send_signal(signal.SIGTERM)

    async def cleanup(self, restart: bool = False) -> None:
        self.pid = None


def _fast_reconnect(create):
    """The sockets connect before the new kernel has bound its endpoints; retry every 5 ms, not 100."""

    def _create_connected_socket(self, channel, identity=None):
        import zmq

        url = self._make_url(channel)
        sock = self.context.socket(__import__("jupyter_client.connect", fromlist=["x"]).channel_socket_types[channel])
        sock.linger = 1000
        sock.setsockopt(zmq.RECONNECT_IVL, 5)
        if identity:
            sock.identity = identity
        if self.curve_publickey is not None:
            return create(self, channel, identity)
        sock.connect(url)
        return sock

    return _create_connected_socket


class ZygoteKernelClient(AsyncKernelClient):
    """jupyter_client's client, without the fixed 0.2 s of IOPub silence ``wait_for_ready`` waits for
    at the end (nbclient matches every output to the request it answers, so an early status message
    cannot land in a cell)."""

    async def _async_wait_for_ready(self, timeout: float | None = None) -> None:
        import asyncio
        from queue import Empty

        end = time.monotonic() + (timeout if timeout is not None else float("inf"))
        while True:
            self.kernel_info()
            try:
                msg = await self.shell_channel.get_msg(timeout=1)
            except Empty:
                msg = None
            if msg is not None and msg["msg_type"] == "kernel_info_reply":
                try:  # IOPub is connected once it delivers anything (the kernel's status, its welcome)
                    await self.iopub_channel.get_msg(timeout=0.2)
                except Empty:
                    pass
                else:
                    self._handle_kernel_info_reply(msg)
                    break
            if not await self._async_is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > end:
                raise RuntimeError(f"Kernel didn't respond in {timeout} seconds")
            await asyncio.sleep(0)
        while True:  # drain what is already there, without waiting for silence
            try:
                await self.iopub_channel.get_msg(timeout=0)
            except Empty:
                break

    wait_for_ready = _async_wait_for_ready
    _create_connected_socket = _fast_reconnect(AsyncKernelClient._create_connected_socket)


class ZygoteKernelManager(AsyncKernelManager):
    """One notebook's kernel, forked by a :class:`ForkServer`, talking over IPC sockets in its shared folder."""

    _create_connected_socket = _fast_reconnect(AsyncKernelManager._create_connected_socket)

    def __init__(self, server: ForkServer, tag: str, **kwargs):
        super().__init__(**kwargs)
        self.server = server
        self.tag = tag
        self.scratch = None
        self.transport = "ipc"
        self.cache_ports = False
        self.ipc_dir = server.ipc_dir(tag)  # the only folder but its scratch the kernel may write
        self.connection_file = os.path.join(self.ipc_dir, "kernel.json")
        self.ip = os.path.join(self.ipc_dir, "ipc")
        self._kernel_spec = server.kernel_spec(self.kernel_name)
        self.kernel_id = str(uuid.uuid4())
        provisioner = ZygoteProvisioner(kernel_id=self.kernel_id, kernel_spec=self._kernel_spec, parent=self)
        provisioner.server = server
        self.provisioner = provisioner
        self.client_class = f"{__name__}.ZygoteKernelClient"

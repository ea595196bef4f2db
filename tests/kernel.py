"""A Jupyter kernel for running notebook cells one by one from the tests."""

from dataclasses import dataclass
from queue import Empty

from jupyter_client.manager import KernelManager


@dataclass
class Outcome:
    ok: bool
    error: str = ""


class Kernel:
    """One python3 kernel; ``run`` executes code and reports failure the way nbgrader scores it
    (an error, or anything written to stderr)."""

    def __init__(self, cwd):
        self.km = KernelManager(kernel_name="python3")
        self.km.start_kernel(cwd=str(cwd), extra_arguments=["--HistoryManager.enabled=False"])
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)

    def run(self, code, timeout=60):
        problems = []

        def collect(msg):
            content = msg["content"]
            if msg["msg_type"] == "error":
                problems.append(f"{content['ename']}: {content['evalue']}")
            elif msg["msg_type"] == "stream" and content["name"] == "stderr":
                problems.append(f"stderr: {content['text'].strip()}")

        try:
            reply = self.kc.execute_interactive(code, timeout=timeout, output_hook=collect, store_history=False)
        except TimeoutError:
            self.km.interrupt_kernel()
            self._drain()
            return Outcome(False, f"timed out after {timeout} s")
        ok = reply["content"]["status"] == "ok" and not problems
        return Outcome(ok, "\n".join(problems) or ("" if ok else reply["content"].get("ename", "error")))

    def _drain(self):
        while True:
            try:
                self.kc.get_shell_msg(timeout=5)
                self.kc.get_iopub_msg(timeout=1)
            except Empty:
                return

    def shutdown(self):
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)

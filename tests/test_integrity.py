"""The static scan flags tampering with the test harness, and leaves ordinary student code alone."""

import pytest

from course import notebooks
from course.grading.integrity import protected_from, scan_cells
from tests.conftest import CHAPTERS

TRUSTED = [
    "import matplotlib.pyplot as plt\nimport numpy as np\nimport torch\nimport torch.nn.functional as F\n"
    "from course import checks, data, plotting\n",
    "out = dropout(x, 0.5, True)\nchecks.close(out, x, 'out')\n"
    "assert len(out) == 3 and isinstance(out, torch.Tensor)\n",
]
PROTECTED = protected_from(TRUSTED)


def _findings(source):
    return scan_cells([(0, source)], PROTECTED)


INNOCENT = {
    "re-import": "import numpy as np\nimport torch\nimport torch.nn.functional as F\n",
    "local names": "def dropout(x, p, training, generator=None):\n    sum = 0\n    len = 3\n    return x\n",
    "plotting": "plt.rcParams['figure.figsize'] = (4, 3)\nfig, ax = plt.subplots()\n",
    "models": "model = torch.nn.Linear(3, 3)\nmodel.eval()\nmodel.weight.data[0] = 1.0\n"
              "activation = getattr(F, 'relu')\n",
    "magics": "%matplotlib inline\n%timeit -n 3 -r 2 dropout(x, 0.5, True)\n",
    "cell magic": "%%time\ny = x.sum()\n",
    "os paths": "import os\npath = os.path.join('a', 'b')\n",
    "own attributes": "class Net(torch.nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                      "        self.fc = torch.nn.Linear(2, 2)\n",
    "syntax error": "def broken(:\n",
}

HOSTILE = {
    "patch numpy": ("np.allclose = lambda *a, **k: True", "monkeypatches `np`"),
    "patch torch": ("torch.testing.assert_close = lambda *a, **k: None", "monkeypatches `torch`"),
    "patch via alias": ("import numpy\nalias = numpy.testing\nalias.assert_allclose = print", "monkeypatches"),
    "patch via from-import": ("from numpy import testing\ntesting.assert_allclose = print", "monkeypatches"),
    "setattr": ("setattr(torch.Tensor, '__eq__', lambda a, b: True)", "setattr() on `torch`"),
    "type dunder": ("type(x).__eq__ = lambda a, b: True", "monkeypatches `type`"),
    "patch checks": ("checks.close = lambda *a, **k: None", "monkeypatches `checks`"),
    "rebind checks": ("checks = object()", "rebinds `checks`"),
    "import checks": ("from course.checks import close", "course.checks"),
    "shadow builtin": ("def isinstance(*a):\n    return True", "built-in `isinstance`"),
    "global rebind": ("def f():\n    global checks\n    checks = None", "global"),
    "get_ipython": ("ip = get_ipython()\nip.input_transformers_cleanup.append(f)", "get_ipython"),
    "IPython import": ("import IPython\nIPython.get_ipython().events.register('pre_run_cell', f)", "IPython"),
    "__import__": ("__import__('IPython').get_ipython()", "__import__"),
    "exec": ("exec('np.allclose = print')", "exec"),
    "sys.modules": ("import sys\nsys.modules['numpy'].allclose = print", "sys"),
    "frames": ("import inspect\ninspect.currentframe().f_back.f_globals['checks'] = None", "inspect"),
    "gc": ("import gc\ngc.get_objects()", "gc"),
    "signal": ("import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)", "signal"),
    "shell escape": ("!rm -rf /tmp/somewhere", "shell command"),
    "other magic": ("%load_ext autoreload", "%load_ext"),
    "magic argument": ("%time np.allclose = print", "monkeypatches `np`"),
    "cell magic body": ("%%time\nnp.allclose = print", "monkeypatches `np`"),
    "dunder globals": ("dropout.__globals__['checks'] = None", "__globals__"),
    "os.system": ("import os\nos.system('ls')", "os.system"),
    "builtins": ("import builtins\nbuiltins.isinstance = lambda *a: True", "builtins"),
    "input history": ("def dropout(x, p, training, generator=None):\n    print(In[-1])\n    return x", "`In`"),
    "__main__": ("import __main__\nprint(__main__._ih)", "__main__"),
}


@pytest.mark.parametrize("name", INNOCENT)
def test_ordinary_code_is_not_flagged(name):
    assert _findings(INNOCENT[name]) == []


@pytest.mark.parametrize("name", HOSTILE)
def test_tampering_is_flagged_with_its_line(name):
    source, reason = HOSTILE[name]
    findings = _findings(source)
    assert findings, f"{name} was not flagged"
    assert any(reason in f.reason or reason in f.code for f in findings), [str(f) for f in findings]
    assert all(f.code == source.splitlines()[f.line - 1].strip() for f in findings)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_the_source_solutions_pass_the_scan(chapter):
    nb = notebooks.read(notebooks.source_path(chapter))
    trusted = [c.source for c in nb.cells if c.cell_type == "code" and not notebooks.is_solution(c)]
    solutions = [(i, c.source) for i, c in enumerate(nb.cells) if notebooks.is_solution(c)]
    assert scan_cells(solutions, protected_from(trusted)) == []

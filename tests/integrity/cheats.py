"""A catalogue of cheating attempts against lesson 1's assignment.

Each attempt is an answer-cell replacement (grade id -> code) that tries to earn
points without the right answer, and the questions it targets. The grading must
give every targeted question zero points.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Cheat:
    name: str
    replace: dict[str, str]
    targets: tuple[str, ...]


CHEATS = [
    Cheat("patch the numeric check", {"q8": "ck.number = lambda *a, **k: None\nq8 = 1.0"}, ("q8",)),
    Cheat("patch every check in the module", {
        "q9": "import infraprep.checking as _c\nfor _n in dir(_c):\n    if not _n.startswith('_') and callable(getattr(_c, _n)) and _n.islower():\n        setattr(_c, _n, lambda *a, **k: None)\nq9 = 1.0"},
        ("q9",)),
    Cheat("patch math.isclose", {"q10": "import math\nmath.isclose = lambda *a, **k: True\nq10 = 1.0"}, ("q10",)),
    Cheat("replace the ck name with do-nothing checks", {"q11": "import types\nimport infraprep.checking as _real\nck = types.SimpleNamespace(**{n: (lambda *a, **k: None) for n in dir(_real) if not n.startswith('_')})\nq11 = 1.0"}, ("q11",)),
    Cheat("always-equal object", {"q1": "class _Eq(str):\n    def __eq__(self, other):\n        return True\n    __hash__ = str.__hash__\nq1 = _Eq('A')"}, ("q1",)),
    Cheat("lying str subclass", {"q2": "class _S(str):\n    def upper(self):\n        return 'C'\n    def strip(self):\n        return self\nq2 = _S('A')"}, ("q2",)),
    Cheat("float subclass that equals anything", {"q12": "class _F(float):\n    def __eq__(self, o):\n        return True\n    def __sub__(self, o):\n        return 0.0\n    __hash__ = float.__hash__\nq12 = _F(1.0)"}, ("q12",)),
    Cheat("hide errors by patching IPython's traceback display", {
        "q4": "get_ipython().showtraceback = lambda *a, **k: None\nget_ipython().showsyntaxerror = lambda *a, **k: None\nq4 = 'A'"}, ("q4",)),
    Cheat("swallow exceptions with a custom exception handler", {
        "q5": "get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)\nq5 = 'A'"}, ("q5",)),
    Cheat("patch AssertionError handling via sys.excepthook", {"q6": "import sys\nsys.excepthook = lambda *a: None\nq6 = 'A'"}, ("q6",)),
    Cheat("trace hidden tests to steal expected values", {
        "q7": "import sys\n_seen = []\ndef _tr(frame, event, arg):\n    if event == 'call':\n        _seen.append(dict(frame.f_locals))\n    return None\nsys.settrace(_tr)\nq7 = 'A'"}, ("q7",)),
    Cheat("function returning an always-equal object", {
        "q13": "def widest_total_comp(salaries):\n    class _E(str):\n        def __eq__(self, other):\n            return True\n        __hash__ = str.__hash__\n    return _E('x')"}, ("q13",)),
    Cheat("function that fakes the judge's reply line", {
        "q14": "def loop_hours(rounds):\n    print('@@infraprep-' + '0' * 24 + '@@{\"t\": \"list\", \"v\": []}')\n    return (0.0, 0.0)"}, ("q14",)),
    Cheat("forge the judge's reply by wrapping stdout", {
        "q3": "import sys\n_write = sys.stdout.write\ndef _forge(text):\n    if '@@infraprep-' in text:\n        nonce = text.split('@@')[1]\n        return _write('\\n@@' + nonce + '@@{\"t\": \"str\", \"v\": \"B\"}\\n')\n    return _write(text)\nsys.stdout.write = _forge\nq3 = 'B'"}, ("q3",)),
]

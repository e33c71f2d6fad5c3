"""Helpers for the browser tests: a JupyterLab server on a temporary copy of the course, and the
few things a learner does in it (open, run all, type into a cell, press a button), driven with Playwright.

Waits are event-driven (Playwright's auto-waiting and ``wait_for_function``) with timeouts; no fixed sleeps.
"""

from __future__ import annotations

import ast
import csv
import importlib
import inspect
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import builders as b

ROOT = b.ROOT
ARTIFACTS = ROOT / "artifacts" / "browser"
CHROMIUM = os.environ.get("INFRAPREP_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]
# What a widget looks like when the front end could not render it: ipywidgets' error text, or the
# plain-text repr of a widget model ("VBox(children=(...", "IntSlider(value=3, ...").
BROKEN_WIDGET = re.compile(r"Error displaying widget|\b[A-Z]\w*\((?:children|value|layout|description|options)=")


# ----------------------------------------------------------------------------- what exists

@dataclass(frozen=True)
class Lesson:
    number: int
    lesson_id: str
    title: str

    @property
    def notebook(self) -> Path:
        return ROOT / "notebooks" / f"{self.lesson_id}.ipynb"

    @property
    def release(self) -> Path:
        return ROOT / "release" / self.lesson_id / f"{self.lesson_id}.ipynb"


def all_lessons() -> list[Lesson]:
    with open(ROOT / "infraprep" / "data" / "lessons.csv", newline="", encoding="utf-8") as handle:
        return [Lesson(int(row["number"]), row["lesson_id"], row["title"]) for row in csv.DictReader(handle)]


def lessons_with_lecture() -> list[Lesson]:
    """Lessons listed in lessons.csv whose lecture notebook exists: every one of them is tested."""
    return [lesson for lesson in all_lessons() if lesson.notebook.exists()]


def lessons_with_release() -> list[Lesson]:
    return [lesson for lesson in all_lessons() if lesson.release.exists()]


def _code(cell) -> str:
    """A code cell's source as Python: IPython magics and shell lines blanked out."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in cell.source.splitlines())


def _imported(tree, namespace: dict) -> None:
    """Add to ``namespace`` the objects a cell imports from the course package (``infraprep``)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "infraprep":
            module = importlib.import_module(node.module)
            for alias in node.names:
                value = getattr(module, alias.name, None)
                if value is None:
                    value = importlib.import_module(f"{node.module}.{alias.name}")
                namespace[alias.asname or alias.name] = value
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "infraprep":
                    module = importlib.import_module(alias.name)
                    if alias.asname:
                        namespace[alias.asname] = module
                    else:  # `import infraprep.charts` binds `infraprep`
                        namespace["infraprep"] = importlib.import_module("infraprep")


def _callee(call: ast.Call, namespace: dict):
    """(dotted name, object) of what a call calls, if it starts from a name the notebook imported."""
    parts, func = [], call.func
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if not isinstance(func, ast.Name) or func.id not in namespace:
        return None, None
    target = namespace[func.id]
    for part in reversed(parts):
        target = getattr(target, part, None)
    return ".".join([func.id, *reversed(parts)]), target


def _returns(target):
    """What calling ``target`` gives: the class itself for a class, else its (evaluated) return annotation."""
    from matplotlib.figure import Figure

    if inspect.isclass(target):
        return target
    try:
        annotation = inspect.signature(target, eval_str=True).return_annotation
    except (NameError, TypeError, ValueError):
        try:
            annotation = inspect.signature(target).return_annotation
        except (TypeError, ValueError):  # no signature to read (a builtin)
            return None
    if isinstance(annotation, str):  # a forward reference, or a name imported only for type checkers
        name = annotation.rsplit(".", 1)[-1]
        annotation = getattr(inspect.getmodule(target), name, Figure if name == "Figure" else annotation)
    return annotation


def shown_values(nb) -> dict[int, tuple[str, str]]:
    """What each code cell shows as its value, when the notebook alone says so: ``{cell index: (kind,
    call)}`` with kind ``"chart"`` for a last line calling a course function that returns a matplotlib
    Figure and ``"widget"`` for one that builds a course widget (a class of ``infraprep.widgets``).

    Names are resolved by importing what the notebook imports from ``infraprep``, so a table helper
    that happens to live in a charts module is not taken for a chart."""
    from matplotlib.figure import Figure

    namespace: dict = {}
    shown = {}
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(_code(cell))
        except SyntaxError:
            continue
        _imported(tree, namespace)
        for node in tree.body:  # `lab = roofline.measure()`: `lab.plot(...)` is then looked up on its class
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                _, target = _callee(node.value, namespace) if isinstance(node.value, ast.Call) else (None, None)
                value = _returns(target) if callable(target) else None
                if isinstance(value, type) and value.__module__.startswith("infraprep"):
                    namespace[node.targets[0].id] = value
                else:
                    namespace.pop(node.targets[0].id, None)
        last = tree.body[-1] if tree.body else None
        if not (isinstance(last, ast.Expr) and isinstance(last.value, ast.Call)):
            continue
        name, target = _callee(last.value, namespace)
        if target is None or not callable(target):
            continue
        value = _returns(target)
        if value is Figure:
            shown[index] = ("chart", name)
        elif isinstance(value, type) and value.__module__.startswith("infraprep.widgets"):
            shown[index] = ("widget", name)
    return shown


# ----------------------------------------------------------------------------- the server

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def copy_course(tmp: Path) -> Path:
    """The course as a learner's JupyterLab sees it, in ``tmp/course``: config, sources, releases, notebooks."""
    course = b.new_course(tmp, b.assignments())
    for folder in ("notebooks", "release"):
        shutil.copytree(ROOT / folder, course / folder, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    for folder in ("submitted", "autograded", "feedback"):
        (course / folder).mkdir(exist_ok=True)
    return course


@dataclass
class Lab:
    course: Path
    url: str
    token: str
    env: dict
    process: subprocess.Popen
    log: Path

    def tree(self, path: str) -> str:
        """URL that opens ``path`` (relative to the course) in JupyterLab."""
        return f"{self.url}/lab/tree/{path}?token={self.token}&reset"

    def page_url(self, path: str) -> str:
        return f"{self.url}/{path.lstrip('/')}{'&' if '?' in path else '?'}token={self.token}"

    def home(self) -> str:
        """URL of JupyterLab itself, in a fresh workspace, with no document open."""
        return f"{self.url}/lab?token={self.token}&reset"

    def api(self, method: str, path: str):
        request = urllib.request.Request(f"{self.url}/api/{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=30) as reply:
            body = reply.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self) -> None:
        """End every notebook session (and its kernel), as closing and shutting down each notebook would."""
        for session in self.api("GET", "sessions"):
            self.api("DELETE", f"sessions/{session['id']}")

    def nbgrader(self, *args: str):
        return b.nbgrader(self.course, *args)

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


def start_lab(tmp: Path, timeout: float = 90) -> Lab:
    """Start ``jupyter lab`` on a free loopback port with a token, rooted in a fresh copy of the course.

    Learner state (INFRAPREP_HOME), the nbgrader exchange and every Jupyter user folder are temporary;
    JupyterLab's system settings (the course's overrides.json) come from the venv."""
    course = copy_course(tmp)
    env = b.nbgrader_env(course)  # INFRAPREP_DB, INFRAPREP_EXCHANGE, PATH with the venv first
    home = tmp / "home"
    for name in ("infraprep", "jupyter-config", "jupyter-data", "run", "lab-settings", "lab-workspaces"):
        (home / name).mkdir(parents=True, exist_ok=True)
    Path(env["INFRAPREP_EXCHANGE"]).mkdir(parents=True, exist_ok=True)
    env.update({
        "INFRAPREP_HOME": str(home / "infraprep"),
        "JUPYTER_CONFIG_DIR": str(home / "jupyter-config"),
        "JUPYTER_DATA_DIR": str(home / "jupyter-data"),
        "JUPYTER_RUNTIME_DIR": str(home / "run"),  # short: kernels' Unix socket paths must fit in 107 bytes
        "JUPYTERLAB_SETTINGS_DIR": str(home / "lab-settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "lab-workspaces"),
    })
    env.pop("JUPYTER_PATH", None)
    port, token = free_port(), secrets.token_hex(16)
    log = tmp / "jupyter-lab.log"
    command = [
        str(b.BIN / "jupyter"), "lab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={course}",
        # The instructor's formgrader is served too, so the score can be seen in the browser.
        "--ServerApp.jpserver_extensions=nbgrader.server_extensions.formgrader=True",
        # Kernels talk over Unix sockets in the temporary runtime folder: no TCP port to race for with
        # other processes starting kernels on the same machine.
        "--KernelManager.transport=ipc",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # containers and CI often run as root
    handle = open(log, "wb")
    process = subprocess.Popen(command, cwd=course, env=env, stdout=handle, stderr=subprocess.STDOUT,
                               start_new_session=True)
    handle.close()
    lab = Lab(course, f"http://127.0.0.1:{port}", token, env, process, log)
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {process.returncode}:\n{lab.log_tail()}")
        try:
            with urllib.request.urlopen(f"{lab.url}/api/status?token={token}", timeout=2) as reply:
                if reply.status == 200:
                    return lab
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            stop_lab(lab)
            raise RuntimeError(f"jupyter lab did not answer within {timeout} s:\n{lab.log_tail()}")
        time.sleep(0.2)


def stop_lab(lab: Lab) -> None:
    """Stop the server (and its kernels, in the same process group): SIGTERM, then SIGKILL if need be."""
    if lab.process.poll() is None:
        try:
            os.killpg(lab.process.pid, 15)
            lab.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(lab.process.pid, 9)
            lab.process.wait(timeout=10)
        except ProcessLookupError:
            pass


def launch_browser(playwright, user_data_dir: str):
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is missing: run `make browser-deps` (as root it installs Debian's chromium)")
    return playwright.chromium.launch_persistent_context(
        user_data_dir, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
        viewport={"width": 1400, "height": 900}, device_scale_factor=1,
    )


def new_user_data_dir() -> str:
    return tempfile.mkdtemp(prefix="infraprep-chromium-")


# ----------------------------------------------------------------------------- in the browser

def open_path(page, lab: Lab, path: str):
    """Open ``path`` in a fresh JupyterLab workspace; return its notebook panel once the kernel is idle."""
    page.goto(lab.tree(path))
    return notebook_panel(page, path)


def notebook_panel(page, path: str, timeout: float = 90_000):
    """The main-area panel of the notebook at ``path`` (course-relative), after its kernel has started.

    Fails if JupyterLab asks which kernel to use: every notebook must name its kernel."""
    # The tab's tooltip reads "Name: …\nPath: <path>\n…"; "\\a " is a newline inside a CSS string.
    tab = page.locator(f'.lm-DockPanel-tabBar .lm-TabBar-tab[title*="Path: {path}\\a "]')
    tab.wait_for(timeout=timeout)
    panel = page.locator(f'[id="{tab.get_attribute("data-id")}"]')
    panel.locator(".jp-Notebook").wait_for(timeout=timeout)
    page.wait_for_function(
        """(id) => { const p = document.getElementById(id);
            const kernel = p?.querySelector('.jp-KernelName')?.textContent || '';
            const idle = p?.querySelector('.jp-Notebook-ExecutionIndicator[data-status="idle"]');
            const status = document.querySelector('.jp-StatusBar-Widget')?.textContent || '';
            return document.querySelector('.jp-Dialog') || (kernel.includes('Python 3') && idle && !/Initializing|Connecting|Starting/.test(status)); }""",
        arg=tab.get_attribute("data-id"), timeout=timeout)
    dialogs = page.locator(".jp-Dialog")
    assert dialogs.count() == 0, f"{path}: a dialog appeared on opening: {dialogs.first.inner_text()!r}"
    return panel


def menu(page, top: str, item: str, attempts: int = 3) -> None:
    """Click a menu-bar entry, then one of its items, as a learner does (again if the menu did not open:
    a click that lands while JupyterLab is still restoring its layout can be lost)."""
    entry = page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{re.escape(top)}$"))
    choice = page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(item)}$"))
    for attempt in range(attempts):
        entry.click()
        try:
            choice.wait_for(timeout=5_000)
            break
        except Exception:  # noqa: BLE001 - retried, then reported by the click below
            if attempt == attempts - 1:
                raise
            page.keyboard.press("Escape")
    choice.click()


def run_all(page, panel, timeout: float = 180_000) -> None:
    """Run → Run All Cells, then wait until the kernel has finished (or an error stopped the run)."""
    menu(page, "Run", "Run All Cells")
    page.wait_for_function(
        """(id) => { const p = document.getElementById(id);
            const prompts = [...p.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(e => e.textContent.trim());
            const busy = prompts.some(t => t.includes('*'));
            const stderr = p.querySelector('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]');
            const done = prompts.length > 0 && prompts.every(t => /^\\[\\d+\\]:$/.test(t));
            const idle = p.querySelector('.jp-Notebook-ExecutionIndicator[data-status="idle"]');
            return idle && !busy && (done || stderr); }""",
        arg=panel.get_attribute("id"), timeout=timeout)


def unexecuted_cells(panel) -> int:
    return panel.locator(".jp-CodeCell .jp-InputPrompt").evaluate_all(
        "es => es.filter(e => !/^\\[\\d+\\]:$/.test(e.textContent.trim())).length")


def error_outputs(panel) -> list[str]:
    """Text of every error or stderr output (a learner sees these as red or pink boxes)."""
    return panel.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]').all_text_contents()


def broken_widgets(panel) -> list[str]:
    """Outputs that show ipywidgets' error text or a widget model's raw text instead of the widget."""
    texts = panel.locator(".jp-OutputArea-output").all_text_contents()
    return [t[:300] for t in texts if BROKEN_WIDGET.search(t)]


# For each [cell index, kind]: does that cell show a loaded chart image (a broken image has no natural
# width) or a rendered widget? Cells are counted in the notebook's order, all of them attached to the page.
_SHOWING_JS = """([p, expected]) => {
    const cells = p.querySelectorAll('.jp-Notebook .jp-Cell');
    return expected.map(([index, kind]) => {
        const cell = cells[index];
        if (!cell) return false;
        if (kind === 'chart')
            return [...cell.querySelectorAll('.jp-OutputArea-output[data-mime-type="image/png"] img')]
                .some(e => e.complete && e.naturalWidth > 50 && e.naturalHeight > 50);
        return cell.querySelector('.jp-OutputArea-output:has(> .jupyter-widgets)') !== null;
    });
}"""


def attached_cells(panel) -> int:
    """Cells in the page: every cell of the notebook with JupyterLab's default windowing
    ("contentVisibility"); only those near the viewport with "full" windowing."""
    return panel.locator(".jp-Notebook .jp-Cell").count()


def cells_not_showing(page, panel, expected: dict[int, tuple[str, str]], timeout: float = 15_000) -> list[str]:
    """Cells among ``expected`` ({index: (kind, call)}, see :func:`shown_values`) that show no loaded
    chart image or no rendered widget, after waiting up to ``timeout`` ms for images to load."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    pairs = [[index, kind] for index, (kind, _) in sorted(expected.items())]
    try:
        page.wait_for_function(f"args => ({_SHOWING_JS})(args).every(Boolean)",
                               arg=[panel.element_handle(), pairs], timeout=timeout)
    except PlaywrightTimeout:  # the cells still missing are reported below
        pass
    showing = page.evaluate(_SHOWING_JS, [panel.element_handle(), pairs])
    return [f"cell {index} ({expected[index][1]}): no {'image' if kind == 'chart' else 'widget'}"
            for (index, kind), ok in zip(pairs, showing) if not ok]


def widget_outputs(panel):
    """Every output rendered by the widget manager (a live ipywidgets view)."""
    return panel.locator(".jp-OutputArea-output:has(> .jupyter-widgets)")


QUIZ_ROW = ".widget-vbox:has(> .widget-radio):has(> button.widget-button)"

# What a widget shows as its result: HTML, labels, Output areas and images (a slider's own readout excluded).
RESULT_JS = """e => [...e.querySelectorAll('.widget-html-content, .widget-output, .widget-label, img')]
    .map(x => x.tagName === 'IMG' ? x.src.length + ':' + x.src.slice(-64) : x.textContent).join('\\u241e')"""


def widget_result(output) -> str:
    return output.evaluate(RESULT_JS)


def wait_for_change(page, output, before: str, timeout: float = 15_000) -> str:
    """Wait until the widget's displayed result differs from ``before``; return the new result."""
    page.wait_for_function(f"([e, before]) => ({RESULT_JS})(e) !== before",
                           arg=[output.element_handle(), before], timeout=timeout)
    return widget_result(output)


def settle(locator, frames: int = 3, limit: int = 120) -> None:
    """Wait until an element has kept its position for a few animation frames (cells above it that were
    off-screen get their real height when first shown, which moves everything below)."""
    locator.evaluate("""(e, [frames, limit]) => new Promise(resolve => {
        let last = '', same = 0, count = 0;
        const tick = () => {
            const r = e.getBoundingClientRect(), key = [r.x, r.y, r.width, r.height].join();
            same = key === last ? same + 1 : 0; last = key; count += 1;
            if (same >= frames || count >= limit) resolve(true); else requestAnimationFrame(tick);
        };
        tick(); })""", [frames, limit])


def bring_to_top(locator) -> None:
    """Scroll the notebook so the cell holding ``locator`` is at the top, and wait until it is laid out
    and painted (off-screen cells are only rendered when they come into view)."""
    locator.evaluate("e => (e.closest('.jp-Cell') || e).scrollIntoView({block: 'start'})")
    settle(locator)


def drive_widget(page, output) -> str:
    """Use a widget's main control as a learner would; return what was done (for messages).

    A slider is dragged, else a toggle button not yet selected is clicked, else a dropdown gets another
    option, else a checkbox is ticked, else the first button is pressed. Returns '' if it has no control."""
    slider = output.locator(".widget-slider .noUi-handle")
    if slider.count():
        handle = slider.first
        handle.scroll_into_view_if_needed()
        settle(handle)
        value = handle.get_attribute("aria-valuenow")
        track = output.locator(".widget-slider .noUi-target").first.bounding_box()
        box = handle.bounding_box()
        x0, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        x1 = track["x"] + track["width"] * (0.2 if x0 > track["x"] + track["width"] / 2 else 0.8)
        page.mouse.move(x0, y)
        page.mouse.down()
        page.mouse.move(x1, y, steps=8)
        page.mouse.up()
        if handle.get_attribute("aria-valuenow") != value:
            return "dragged a slider"
        # The notebook can still shift under the pointer while off-screen cells lay out: use the keyboard.
        handle.focus()
        key = "ArrowLeft" if x1 < x0 else "ArrowRight"
        for _ in range(5):
            page.keyboard.press(key)
        return f"moved a slider with {key}"
    toggles = output.locator(".widget-toggle-button:not(.mod-active)")
    if toggles.count():
        label = toggles.first.inner_text()
        toggles.first.click()
        return f"clicked the toggle {label!r}"
    dropdown = output.locator(".widget-dropdown select")
    if dropdown.count():
        select = dropdown.first
        values = select.locator("option").evaluate_all("os => os.map(o => o.value)")
        current = select.input_value()
        other = next(v for v in values if v != current)
        select.select_option(other)
        return "picked another dropdown option"
    boxes = output.locator(".widget-checkbox input[type=checkbox]:not(:checked)")
    if boxes.count():
        boxes.first.check()
        return "ticked a checkbox"
    buttons = output.locator("button.widget-button:not([disabled])")
    if buttons.count():
        label = buttons.first.inner_text()
        buttons.first.click()
        return f"pressed the button {label!r}"
    return ""


# ----------------------------------------------------------------------------- assignments

# A value of the wrong *form* for each visible check: the visible test must reject it.
WRONG_FORM = {"is_choice": '"Z"', "is_choices": '"Z"', "is_number": '"a lot"', "is_text": "42",
              "is_list": "42", "is_callable": "42", "call": "42"}


@dataclass(frozen=True)
class Answer:
    grade_id: str     # the answer cell's grade id
    cell: int         # its index in the notebook
    code: str         # what the learner types
    test_cell: int    # index of its test cell
    question: str     # the label the checks use, e.g. "Q2"
    points: float


def _answers(assignment: str) -> list[tuple[int, int, str, str]]:
    """(answer cell index, test cell index, grade id, visible test source) for each autograded answer."""
    nb = b.release_nb(assignment)
    out = []
    for index, cell in enumerate(nb.cells):
        if b.meta(cell).get("solution") and not b.meta(cell).get("grade") and cell.cell_type == "code":
            test = nb.cells[index + 1]
            assert b.meta(test).get("grade"), f"{assignment}: the cell after {b.grade_id(cell)} is not its test"
            out.append((index, index + 1, b.grade_id(cell), test.source))
    return out


def correct_answer(assignment: str, position: int = 0) -> Answer:
    """An autograded question (the first by default), answered with the instructor's solution."""
    index, test_index, gid, test = _answers(assignment)[position]
    solution = next(c.source for c in b.source_nb(assignment).cells if b.grade_id(c) == gid)
    label = re.search(r'ck\.\w+\(\s*"([^"]+)"', test)
    points = b.test_cells(b.source_nb(assignment))[b.grade_id(b.release_nb(assignment).cells[test_index])]
    return Answer(gid, index, solution, test_index, label.group(1) if label else gid, points)


def answers_between(assignment: str, first: Answer, last: Answer) -> list[Answer]:
    """Correct answers to the questions strictly between two others (so Run All reaches the second)."""
    cells = [index for index, *_ in _answers(assignment)]
    return [correct_answer(assignment, n) for n, index in enumerate(cells) if first.cell < index < last.cell]


def wrong_form_answer(assignment: str) -> Answer:
    """The second autograded question whose visible test checks a form we can break, answered in a wrong form."""
    for index, test_index, gid, test in _answers(assignment)[1:]:
        check = re.search(r'ck\.(\w+)\(\s*"([^"]+)"', test)
        if not check or check.group(1) not in WRONG_FORM:
            continue
        source = b.release_nb(assignment).cells[index].source
        name = re.search(r"^(?:def\s+)?(\w+)", source.strip(), re.M).group(1)
        return Answer(gid, index, f"{name} = {WRONG_FORM[check.group(1)]}", test_index, check.group(2), 0.0)
    raise AssertionError(f"{assignment}: no question after the first has a visible form check")


def cell(panel, index: int):
    return panel.locator(".jp-Notebook .jp-Cell").nth(index)


def type_into_cell(page, panel, index: int, code: str) -> None:
    """Replace a code cell's text, as a learner does: click in it, select all, type."""
    editor = cell(panel, index).locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(code)
    last_line = code.strip().splitlines()[-1].strip()
    page.wait_for_function("([e, line]) => e.textContent.replace(/\\u00a0/g, ' ').includes(line)",
                           arg=[editor.element_handle(), last_line])
    page.keyboard.press("Escape")


def cell_output(panel, index: int) -> str:
    return cell(panel, index).locator(".jp-OutputArea").text_content()


def cell_has_error(panel, index: int) -> bool:
    return cell(panel, index).locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]').count() > 0


def save(page, panel) -> None:
    """Ctrl+S, then wait until the tab no longer shows unsaved changes."""
    cell(panel, 0).click()
    page.keyboard.press("Control+s")
    page.wait_for_function("id => !document.querySelector(`.lm-TabBar-tab[data-id='${id}']`).classList.contains('jp-mod-dirty')",
                           arg=panel.get_attribute("id"))


def run_cell(page, panel, index: int) -> None:
    """Run one cell as a learner does: click it, Shift+Enter."""
    cell(panel, index).locator(".jp-InputArea").click()
    page.keyboard.press("Escape")
    page.keyboard.press("Shift+Enter")

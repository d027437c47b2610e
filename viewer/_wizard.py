"""Create New Log Session: name, providers, level and keywords, options, start.

The same screen, opened on a running session, edits its providers, levels and
keywords (steps 2 and 3 only) and applies them with ``update_session``.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import (
    Button,
    Checkbox,
    ContentSwitcher,
    Footer,
    Input,
    Label,
    Select,
    SelectionList,
    Static,
)

from tracer import Level, Manifest, ProviderEnable, SessionConfig, TracerError
from tracer.otel import PROTOCOLS, OtlpOptions

from ._safe import safe_text

__all__ = ["SessionWizard", "parse_size"]

_STEPS = ("step-name", "step-providers", "step-keywords", "step-options")
_TITLES = {"step-name": "1. Session name", "step-providers": "2. Providers",
           "step-keywords": "3. Level and keywords", "step-options": "4. Log session options"}
_LEVELS = [(f"{lv.value} {lv.name.lower()}", lv.value) for lv in Level]
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]?)i?b?\s*$", re.IGNORECASE)


def parse_size(text: str) -> int | None:
    """``10M`` -> 10485760; empty -> None; raise ValueError if unreadable."""
    if not text.strip():
        return None
    m = _SIZE_RE.match(text)
    if not m:
        raise ValueError(f"bad size {text!r}: use e.g. 512K, 10M, 1G")
    scale = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[m.group(2).lower()]
    return int(float(m.group(1)) * scale)


class SessionWizard(Screen[None]):
    """The wizard; ``on_start`` or ``on_apply`` does the work and may raise TracerError."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+p", "back", "Back"),
        Binding("ctrl+n", "next", "Next"),
        Binding("ctrl+s", "finish", "Start"),
    ]
    DEFAULT_CSS = """
    SessionWizard { align: center top; }
    #wizard { width: 100%; max-width: 90; height: 1fr; padding: 0 1; }
    #wizard-title { text-style: bold; color: $accent; height: 1; }
    #wizard-bottom { dock: bottom; height: auto; }
    #wizard-error { color: $error; height: auto; }
    #wizard-buttons { height: 3; }
    #wizard-buttons Button { margin-right: 1; min-width: 10; }
    .kw-provider { text-style: bold; margin-top: 1; }
    SelectionList { height: auto; max-height: 10; }
    ContentSwitcher { height: 1fr; }
    ContentSwitcher > * { height: 1fr; }
    .hint { color: $text-muted; }
    """

    def __init__(self, manifests: dict[str, Manifest], running: set[str], *,
                 on_start: Callable[[SessionConfig], None] | None = None,
                 on_apply: Callable[[list[ProviderEnable]], None] | None = None,
                 edit: tuple[str, list[ProviderEnable]] | None = None,
                 default_name: str = "traceview-1") -> None:
        super().__init__()
        self.manifests = manifests
        self.running = running
        self.on_start = on_start
        self.on_apply = on_apply
        self.edit = edit
        self.default_name = default_name
        self.steps = _STEPS[1:3] if edit else _STEPS
        self.step = 0
        self._specs: dict[str, ProviderEnable] = {p.provider: p for p in (edit[1] if edit else [])}

    # -- layout -------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Vertical(id="wizard"):
            yield Label("", id="wizard-title")
            with ContentSwitcher(initial=self.steps[0]):
                with Vertical(id="step-name"):
                    yield Label("A name for the new log session (letters, digits, _ . -):")
                    yield Input(self.default_name, id="name")
                with Vertical(id="step-providers"):
                    yield Label("Add providers (space toggles):")
                    yield SelectionList[str](*self._provider_items(), id="providers")
                yield VerticalScroll(id="step-keywords")
                with VerticalScroll(id="step-options"):
                    yield Checkbox("Real-time display", True, id="realtime")
                    yield Label("Log file path (empty: no log file):")
                    yield Input("", placeholder="e.g. /tmp/trace.jsonl", id="file")
                    yield Label("File mode:")
                    yield Select([(m, m) for m in ("sequential", "circular", "rotate")],
                                 value="sequential", allow_blank=False, id="mode")
                    yield Label("Max size (e.g. 10M; needed for circular and rotate):")
                    yield Input("", placeholder="no limit", id="max-size")
                    yield Label("OpenTelemetry export: OTLP endpoint (empty: no export):")
                    yield Input("", placeholder="e.g. http://localhost:4318", id="otlp-endpoint")
                    yield Label("OTLP protocol:")
                    yield Select([(p, p) for p in PROTOCOLS], value="http/protobuf",
                                 allow_blank=False, id="otlp-protocol")
                    yield Label("OTLP headers (key=value, comma-separated):")
                    yield Input("", placeholder="e.g. authorization=Bearer x", id="otlp-headers")
            with Vertical(id="wizard-bottom"):
                yield Static("", id="wizard-error")
                with Horizontal(id="wizard-buttons"):
                    yield Button("Back", id="back")
                    yield Button("Next", id="next", variant="primary")
                    yield Button("Apply" if self.edit else "Start", id="finish",
                                 variant="success")
        yield Footer()

    def _provider_items(self) -> list[tuple[Text, str, bool]]:
        items = []
        for name in sorted(self.manifests):
            m = self.manifests[name]
            state = "running" if name in self.running else "manifest only"
            label = f"{name}  ({state})" + (f" {m.description}" if m.description else "")
            items.append((safe_text(label[:70]), name, name in self._specs))
        return items

    async def on_mount(self) -> None:
        await self._show()

    async def _show(self) -> None:
        step = self.steps[self.step]
        title = _TITLES[step]
        if self.edit:
            title = f"Edit session {self.edit[0]}: {title[3:]}"
        self.query_one("#wizard-title", Label).update(safe_text(title))
        self.query_one(ContentSwitcher).current = step
        self.query_one("#back", Button).disabled = self.step == 0
        self.query_one("#next", Button).disabled = self.step == len(self.steps) - 1
        self._error("")
        focus = {"step-name": "#name", "step-providers": "#providers",
                 "step-options": "#realtime"}.get(step)
        if step == "step-keywords":
            await self._build_keywords()
            lists = self.query("#step-keywords Select")
            if lists:
                lists.first().focus()
        elif focus:
            self.query_one(focus).focus()

    def _error(self, text: str) -> None:
        self.query_one("#wizard-error", Static).update(safe_text(text))

    # -- step 3: level and keywords per provider ---------------------------------------------
    def _selected_providers(self) -> list[str]:
        return list(self.query_one("#providers", SelectionList).selected)

    async def _build_keywords(self) -> None:
        box = self.query_one("#step-keywords", VerticalScroll)
        await box.remove_children()
        widgets: list[Widget] = []
        for name in self._selected_providers():
            spec = self._specs.get(name, ProviderEnable(name))
            kws = list(self.manifests[name].keywords)
            chosen = set(kws) if spec.keywords is None else set(spec.keywords)
            widgets.append(Label(safe_text(name), classes="kw-provider"))
            widgets.append(Select(_LEVELS, value=int(spec.level), allow_blank=False,
                                  id=f"level-{_wid(name)}"))
            widgets.append(SelectionList[str](*[(safe_text(k), k, k in chosen) for k in kws],
                                              id=f"kw-{_wid(name)}"))
        if not widgets:
            widgets.append(Label("No provider selected: go back and add one.", classes="hint"))
        await box.mount_all(widgets)

    def _collect_specs(self) -> list[ProviderEnable]:
        specs = []
        for name in self._selected_providers():
            known = self._specs.get(name, ProviderEnable(name))
            try:
                level = self.query_one(f"#level-{_wid(name)}", Select).value
                chosen = self.query_one(f"#kw-{_wid(name)}", SelectionList).selected
            except Exception:  # step 3 not built yet: keep what we had
                specs.append(known)
                continue
            kws = list(self.manifests[name].keywords)
            keywords = None if set(chosen) == set(kws) else tuple(k for k in kws if k in chosen)
            specs.append(ProviderEnable(name, Level(level) if isinstance(level, int)
                                        else known.level, keywords))
        self._specs = {s.provider: s for s in specs}
        return specs

    # -- navigation ---------------------------------------------------------------------
    def _validate_step(self) -> bool:
        step = self.steps[self.step]
        if step == "step-name":
            try:
                name = self.query_one("#name", Input).value.strip()
                SessionConfig(name, realtime=True).validate()
            except TracerError as exc:
                self._error(str(exc))
                return False
        elif step == "step-providers" and not self._selected_providers():
            self._error("Select at least one provider (space toggles).")
            return False
        elif step == "step-keywords":
            self._collect_specs()
        return True

    async def action_next(self) -> None:
        """Go to the next step if this one is valid."""
        if self.step < len(self.steps) - 1 and self._validate_step():
            self.step += 1
            await self._show()

    async def action_back(self) -> None:
        """Go to the previous step."""
        if self.step > 0:
            if self.steps[self.step] == "step-keywords":
                self._collect_specs()
            self.step -= 1
            await self._show()

    def action_cancel(self) -> None:
        """Leave without starting anything."""
        self.dismiss(None)

    def build_config(self) -> SessionConfig:
        """The SessionConfig the wizard's fields describe (raises on bad values)."""
        try:
            max_size = parse_size(self.query_one("#max-size", Input).value)
        except ValueError as exc:
            raise TracerError(str(exc)) from None
        file = self.query_one("#file", Input).value.strip() or None
        config = SessionConfig(self.query_one("#name", Input).value.strip(),
                               self._collect_specs(),
                               realtime=self.query_one("#realtime", Checkbox).value,
                               file=file, mode=str(self.query_one("#mode", Select).value),
                               max_size=max_size, otlp=self._otlp_options())
        config.validate()
        return config

    def _otlp_options(self) -> OtlpOptions | None:
        """The OTLP sink the export fields ask for, or None without an endpoint."""
        endpoint = self.query_one("#otlp-endpoint", Input).value.strip()
        if not endpoint:
            return None
        if "://" not in endpoint:
            raise TracerError(f"OTLP endpoint {endpoint!r} needs a scheme: "
                              "http://HOST:PORT or https://HOST:PORT")
        headers: dict[str, str] = {}
        for item in self.query_one("#otlp-headers", Input).value.split(","):
            if not item.strip():
                continue
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise TracerError(f"bad OTLP header {item.strip()!r}: use key=value")
            headers[key.strip()] = value.strip()
        return OtlpOptions(endpoint=endpoint,
                           protocol=str(self.query_one("#otlp-protocol", Select).value),
                           headers=headers or None)

    def action_finish(self) -> None:
        """Start the session (or apply the edit); stay here and show the error if it fails."""
        if not self._validate_step():
            return
        if not self._selected_providers():
            self._error("Select at least one provider.")
            return
        try:
            if self.edit:
                assert self.on_apply is not None
                self.on_apply(self._collect_specs())
            else:
                assert self.on_start is not None
                self.on_start(self.build_config())
        except TracerError as exc:
            self._error(str(exc))
            return
        self.dismiss(None)

    async def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "back":
            await self.action_back()
        elif event.button.id == "next":
            await self.action_next()
        elif event.button.id == "finish":
            self.action_finish()

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "name":
            await self.action_next()
        else:
            self.action_finish()


def _wid(name: str) -> str:
    """A widget id made from a provider name."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)

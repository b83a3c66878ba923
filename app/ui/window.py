"""The DearPyGui window: the panels on the left, the view in the middle, the status bar below.
Mouse gestures on the view move the camera; files dropped on the window open as scenes."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import dearpygui.dearpygui as dpg
import numpy as np

from fieldscope.app.state.block_overlay import BlockOverlay
from fieldscope.app.state.compare import MOST_TILES, tile_grid
from fieldscope.app.state.session import Session
from fieldscope.app.state.shown import Views
from fieldscope.app.ui import drop
from fieldscope.app.ui.panels import Panel
from fieldscope.app.ui.statusbar import StatusBar
from fieldscope.fields.training.trainer import Snapshot

TITLE = "fieldscope"
PANEL_WIDTH = 370
STATUS_HEIGHT = 30
VIEWPORT = (1280, 800)


class Window:
    """Lays out `panels` and `status_bar` (built here), shows `views`' picture, moves the view's
    camera with the mouse, tells `blocks` what the mouse is over and `on_drop(paths, shift)` what
    is dropped; `frame()` runs one frame of the app (screenshots wait on frames)."""

    def __init__(
        self,
        panels: list[Panel],
        status_bar: StatusBar,
        views: Views,
        blocks: BlockOverlay,
        on_drop: Callable[[list[str], bool], None],
        frame: Callable[[], None],
        show: bool = True,
    ) -> None:
        self.panels, self.status_bar, self.views, self.blocks, self.frame = panels, status_bar, views, blocks, frame
        dpg.create_context()
        dpg.configure_app(manual_callback_management=True)
        dpg.create_viewport(title=TITLE, width=VIEWPORT[0], height=VIEWPORT[1], vsync=False)
        dpg.setup_dearpygui()
        self.texture_size = (0, 0)
        self._pixels = np.zeros(4, np.float32)
        self._registry = dpg.add_texture_registry()
        with dpg.window(tag="main", no_scrollbar=True):
            with dpg.group(horizontal=True):
                with dpg.child_window(width=PANEL_WIDTH, height=-STATUS_HEIGHT):
                    for panel in self.panels:
                        panel.build()
                self.view_area = dpg.add_child_window(width=-1, height=-STATUS_HEIGHT, no_scrollbar=True)
            self.status_bar.build()
        dpg.set_primary_window("main", True)
        self._drag: tuple[int, tuple[float, float]] | None = None
        self._wheel = 0.0
        self._mouse: tuple[float, ...] = (0.0, 0.0)
        self.last_input = 0.0
        with dpg.handler_registry():
            dpg.add_mouse_wheel_handler(callback=self._on_wheel)
        self.image: int | None = None
        self.tile_labels: list[int] = []  # texts over a comparison's tiles
        self._labelled = False
        self._last_refresh = 0.0
        self._open = True
        if show:
            dpg.show_viewport()
            self.drop_hook = drop.install(on_drop)  # needs the viewport's GLFW window
        else:
            self.drop_hook = False

    # ---- the view image
    def view_size(self) -> tuple[int, int]:
        """The view's size in pixels: what the middle area holds."""
        width = max(64, dpg.get_viewport_client_width() - PANEL_WIDTH - 32)
        height = max(64, dpg.get_viewport_client_height() - STATUS_HEIGHT - 28)
        return width, height

    def _ensure_texture(self, width: int, height: int) -> None:
        if self.texture_size == (width, height):
            return
        if self.image is not None:
            dpg.delete_item(self.image)
            dpg.delete_item(self.texture)
        self._pixels = np.zeros(width * height * 4, np.float32)
        self.texture = dpg.add_raw_texture(
            width, height, self._pixels, format=dpg.mvFormat_Float_rgba, parent=self._registry
        )
        self.image = dpg.add_image(self.texture, width=width, height=height, parent=self.view_area)
        self.texture_size = (width, height)

    def view_rect(self) -> tuple[int, int, int, int]:
        """(x, y, width, height) of the view image in the window's framebuffer."""
        x, y = dpg.get_item_rect_min(self.image)
        return int(x), int(y), *self.texture_size

    def refresh(self, snapshot: Snapshot | None, picture_changed: bool) -> None:
        """Show the view's new picture (if it changed), the status bar, and a few times a second
        the panels and a comparison's tile labels. Before any scene (`snapshot` None): the status bar only."""
        if snapshot is None:
            self.status_bar.refresh()
            return
        picture = self.views.shown().image
        height, width = picture.shape[:2]
        self._ensure_texture(width, height)
        if picture_changed:
            np.copyto(self._pixels, picture.reshape(-1))
            dpg.set_value(self.texture, self._pixels)
        now = time.perf_counter()
        due = now - self._last_refresh >= 0.2  # panel texts, plots and tile labels: a few times a second
        if due:
            self._last_refresh = now
            for panel in self.panels:
                panel.refresh(snapshot)
        compare = self.views.compare
        if compare is None and self._labelled:
            self.label_tiles([])  # the comparison closed: its labels go at once
        elif compare is not None and due:
            self.label_tiles(compare.labels())
        self.status_bar.refresh()

    def label_tiles(self, labels: list[str]) -> None:
        """Write `labels` over the view's tiles (app/state/compare.py tile_grid), one each; [] hides them."""
        self._labelled = bool(labels)
        if not self.tile_labels:
            self.tile_labels = [dpg.add_text("", parent=self.view_area, show=False) for _ in range(MOST_TILES)]
        tiles = tile_grid(len(labels), *self.texture_size) if labels else []
        left, top = dpg.get_item_pos(self.image) if self.image is not None else (0, 0)
        for index, item in enumerate(self.tile_labels):
            if index < len(labels):
                x, y = tiles[index][:2]
                dpg.configure_item(item, default_value=labels[index], pos=(left + x + 6, top + y + 4), show=True)
            else:
                dpg.configure_item(item, show=False)

    def on_session(self, session: Session) -> None:
        dpg.set_viewport_title(f"{TITLE} — {session.name}")
        for panel in self.panels:
            panel.on_session(session)

    # ---- input
    def _on_wheel(self, sender: int, delta: float) -> None:
        self._wheel += float(delta)

    def _view_pointer(self) -> tuple[float, float] | None:
        if self.image is None or not dpg.is_item_hovered(self.image):
            return None
        mx, my = dpg.get_mouse_pos(local=False)
        x, y = dpg.get_item_rect_min(self.image)
        return mx - x, my - y

    def poll_input(self) -> None:
        snapshot, state = self.views.current.snapshot(), self.views.view_state
        mouse = tuple(dpg.get_mouse_pos(local=False))
        if mouse != self._mouse or self._wheel or any(dpg.is_mouse_button_down(b) for b in (0, 1, 2)):
            self.last_input, self._mouse = time.perf_counter(), mouse
        pointer = self._view_pointer()
        wheel, self._wheel = self._wheel, 0.0
        if snapshot is None:
            return
        self.blocks.hover(pointer)
        if wheel and pointer is not None:
            state.wheel(snapshot, wheel, pointer)
        if self._drag is not None:
            button, last = self._drag
            if not dpg.is_mouse_button_down(button):
                self._drag = None
                return
            now = tuple(dpg.get_mouse_pos(local=False))
            if now != last:
                state.drag(snapshot, now[0] - last[0], now[1] - last[1], button)
                self._drag = (button, now)
        elif pointer is not None:
            for button in (0, 1, 2):
                if dpg.is_mouse_button_down(button):
                    self._drag = (button, tuple(dpg.get_mouse_pos(local=False)))

    # ---- frames
    def render(self) -> None:
        dpg.run_callbacks(dpg.get_callback_queue())
        self.poll_input()
        dpg.render_dearpygui_frame()
        if not dpg.is_dearpygui_running():
            self._open = False

    def is_open(self) -> bool:
        return self._open and dpg.is_dearpygui_running()

    def screenshot(self, path: str | Path, frames: int = 30) -> Path:
        """Save the whole window as the screen shows it (PNG), rendering frames until it is written."""
        path = Path(path)
        path.unlink(missing_ok=True)
        for _ in range(2):  # texture updates reach the screen a frame later
            self.frame()
        dpg.output_frame_buffer(file=str(path))
        for _ in range(frames):
            self.frame()
            if path.exists() and path.stat().st_size > 0:
                time.sleep(0.05)
                self.frame()
                break
        return path

    def close(self) -> None:
        drop.uninstall()
        if self._open or dpg.is_dearpygui_running():
            dpg.stop_dearpygui()
        dpg.destroy_context()
        self._open = False

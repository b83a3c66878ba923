"""The window's exports as jobs (progress bar, cancel; app/state/export.py makes them): the view as
shown, a full-resolution render, a video, a mesh, the snapshot. Files go to `folder`, named after
the scene, what the view shows and the step."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from fieldscope.app.render.renderer import Renderer
from fieldscope.app.state import export
from fieldscope.app.state.current import Current
from fieldscope.app.state.jobs import Jobs, JobSteps
from fieldscope.app.state.shown import Views
from fieldscope.app.state.status import Status
from fieldscope.fields.training.trainer import Snapshot


class Exports:
    def __init__(self, renderer: Renderer, current: Current, views: Views, jobs: Jobs, status: Status) -> None:
        self.renderer, self.current, self.views, self.jobs, self.status = renderer, current, views, jobs, status
        self.folder = Path.cwd()

    def name(self, suffix: str, what: str = "") -> Path:
        """<folder>/<scene>[-what]-step<step>.<suffix>"""
        snapshot = self.current.snapshot()
        session = self.current.session
        stem = Path(session.name).stem if session is not None else "fieldscope"
        tag = f"-{what}" if what else ""
        return Path(self.folder).expanduser() / f"{stem}{tag}-step{snapshot.step if snapshot else 0}.{suffix}"

    def view_name(self) -> Path:
        """<folder>/<scene>-<heatmap>[-level<l>][-points][-blocks-level<l>]-step<step>.png"""
        state = self.views.view_state.settings
        words = [] if state.heatmap == "none" else [state.heatmap.replace("_", "-"), f"level{state.heat_level}"]
        if any(state.points):
            words.append("points")
        if state.blocks >= 0:
            words.append(f"blocks-level{state.blocks}")
        return self.name("png", "-".join(words or ["view"]))

    def _start(self, name: str, make: Callable[[Snapshot], JobSteps]) -> bool:
        snapshot = self.current.snapshot()
        if snapshot is None:
            self.status.say(f"{name}: nothing to export yet", True)
            return False
        return self.jobs.start(name, make(snapshot))

    def screenshot(self, path: str | Path, legend: bool | None = None) -> bool:
        """The view as shown (full resolution, with its overlays and legends) -> PNG, written
        atomically; `legend` overrides whether the legends are drawn."""
        camera, options = self.views.view_state.camera, self.views.options()
        if legend is not None:
            options = replace(options, legend=legend)
        return self._start(
            "screenshot", lambda s: export.image_job(self.renderer, s, camera, options, Path(path), "screenshot")
        )

    def render(self, path: str | Path, scale: float = 1.0, size: tuple[int, int] = (1920, 1080)) -> bool:
        camera, options = self.views.view_state.camera, self.views.options()
        return self._start(
            "render", lambda s: export.render_job(self.renderer, s, camera, options, Path(path), scale, size)
        )

    def video(self, path: str | Path, frames: int = 48, fps: int = 24) -> bool:
        camera, options = self.views.view_state.camera, self.views.options()
        return self._start(
            "video", lambda s: export.video_job(self.renderer, s, camera, options, Path(path), frames, fps)
        )

    def mesh(self, path: str | Path, resolution: int = 128) -> bool:
        return self._start("mesh", lambda s: export.mesh_job(s, Path(path), resolution))

    def snapshot(self, path: str | Path) -> bool:
        return self._start("snapshot", lambda s: export.snapshot_job(s, Path(path)))

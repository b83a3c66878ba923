"""What the view draws over the field (the Inside panel's controls): a heatmap of a level (hash
collisions, a level's contribution, points per vertex) with its opacity and scale, the Lagrangian
points of each level with their sigma circles, the level strip and the legends. Settings a field
cannot show are refused with one line in the status bar."""

from __future__ import annotations

from fieldscope.app.render.heatmaps import HEATMAPS
from fieldscope.app.state import blocks, collisions, inside
from fieldscope.app.state.current import Current
from fieldscope.app.state.jobs import Jobs
from fieldscope.app.state.shown import Views
from fieldscope.app.state.status import Status
from fieldscope.app.state.view import ViewState
from fieldscope.fields.training.trainer import Snapshot


class Overlays:
    def __init__(self, current: Current, view_state: ViewState, views: Views, jobs: Jobs, status: Status) -> None:
        self.current, self.view_state, self.views, self.jobs, self.status = current, view_state, views, jobs, status

    def set_heatmap(self, name: str, level: int | None = None) -> bool:
        """Show a heatmap (renderer HEATMAPS: "none", "collisions", "contribution",
        "points_per_vertex") of `level` (default: the current one). A collision count too large to
        make at once starts as a job (progress bar, cancel)."""
        if name not in HEATMAPS:
            self.status.say(f"unknown heatmap {name!r} (known: {', '.join(HEATMAPS)})", True)
            return False
        snapshot = self.current.snapshot()
        if snapshot is not None and name != "none" and not inside.grid_level_count(snapshot.config):
            self.status.say(inside.heatmap_problem(snapshot.config, name, 0), True)
            return False
        self.view_state.change(heatmap=name)
        if level is not None:
            return self.set_heat_level(level)
        self._count_if_needed()
        return self._say_heat_problem()

    def set_heat_level(self, level: int) -> bool:
        snapshot = self.current.snapshot()
        top = len(snapshot.level_mask) - 1 if snapshot is not None else 0
        self.view_state.change(heat_level=max(0, min(top, int(level))))
        self._count_if_needed()
        return self._say_heat_problem()

    def _say_heat_problem(self) -> bool:
        """Tell the status bar when the chosen heatmap cannot show the chosen level; False then."""
        snapshot = self.current.snapshot()
        if snapshot is None:
            return True
        settings = self.view_state.settings
        problem = inside.heatmap_problem(snapshot.config, settings.heatmap, settings.heat_level)
        if problem:
            self.status.say(problem, True)
        return not problem

    def set_heat_opacity(self, opacity: float) -> None:
        self.view_state.change(heat_opacity=float(min(1.0, max(0.0, opacity))))

    def set_heat_scale(self, scale: float) -> None:
        """The contribution at full colour; 0 scales to the view (its 99th percentile)."""
        self.view_state.change(heat_scale=max(0.0, float(scale)))

    def lagrangian_levels(self) -> list[int]:
        """The levels that hold Lagrangian points in the fields shown (empty for other kinds)."""
        shown = self.views.snapshots()
        return sorted({s.level for snapshot in shown for s in inside.overlays.lagrangian_levels(snapshot)})

    def show_points(self, on: bool, level: int | None = None) -> bool:
        """Draw (or hide) the points of one Lagrangian level, or of all of them (level None)."""
        levels = self.lagrangian_levels()
        if on and (not levels or (level is not None and level not in levels)):
            snapshot = self.current.snapshot()
            kind = snapshot.config.kind if snapshot is not None else "no"
            which = f"level {level} has" if levels else f"{kind} fields have"
            self.status.say(f"{which} no Lagrangian points (Gaussian-bucket fields have them)", True)
            return False
        shown = self.view_state.settings.points
        toggles = list(shown) + [False] * (len(levels) - len(shown))
        for i, lvl in enumerate(levels):
            if level is None or lvl == level:
                toggles[i] = bool(on)
        self.view_state.change(points=tuple(toggles[: len(levels)]))
        return True

    def set_sigma_circles(self, on: bool) -> None:
        self.view_state.change(sigma_circles=bool(on))

    def set_points_start(self, on: bool) -> None:
        """Draw grey dots where the Lagrangian points started, under the points."""
        self.view_state.change(points_start=bool(on))

    def set_level_strip(self, on: bool) -> None:
        self.view_state.level_strip = bool(on)

    def set_legend(self, on: bool) -> None:
        self.view_state.change(legend=bool(on))

    def fit_to(self, snapshot: Snapshot) -> None:
        """A new field: points toggles per its Lagrangian levels, heat level within its levels,
        blocks within its scales (none for kinds without blocks)."""
        count = len(inside.overlays.lagrangian_levels(snapshot))
        settings = self.view_state.settings
        self.view_state.change(
            points=(tuple(settings.points) + (False,) * count)[:count],
            heat_level=min(settings.heat_level, max(0, len(snapshot.level_mask) - 1)),
            blocks=min(settings.blocks, snapshot.config.scales - 1) if blocks.has_blocks(snapshot) else -1,
        )
        self._count_if_needed()

    def _count_if_needed(self) -> None:
        snapshot = self.current.snapshot()
        heatmap = self.view_state.settings.heatmap
        if heatmap != "collisions" or snapshot is None or not inside.grid_level_count(snapshot.config):
            return
        level = self.view_state.settings.heat_level
        key = collisions.level_key(snapshot.config, level)
        if collisions.cached(key) is None and key.countable and not key.interactive:
            self.jobs.start("collisions", inside.count_job(key, level, self.views.field.invalidate))

"""What the view area shows: the scene's field (`field`, a ProgressiveView) or a comparison's
fields as tiles (`tiles`), drawn with the view's camera and options (ViewState's settings plus the
level mask, the ground truth and the level strip)."""

from __future__ import annotations

import numpy as np

from fieldscope.app.render.progressive import ProgressiveView
from fieldscope.app.render.renderer import ViewOptions, image_size
from fieldscope.app.state.compare import CompareSession, TileSet
from fieldscope.app.state.current import Current
from fieldscope.app.state.level_mask import LevelMask
from fieldscope.app.state.status import Status
from fieldscope.app.state.view import ViewState
from fieldscope.fields.errors import FieldscopeError
from fieldscope.fields.training.trainer import Snapshot


class Views:
    def __init__(
        self,
        field: ProgressiveView,
        tiles: ProgressiveView,
        current: Current,
        view_state: ViewState,
        levels: LevelMask,
        status: Status,
    ) -> None:
        self.field, self.tiles = field, tiles
        self.current, self.view_state, self.levels, self.status = current, view_state, levels, status
        self.compare: CompareSession | None = None  # shown as tiles when set
        self._tile_set: TileSet | None = None

    def options(self) -> ViewOptions:
        """The options the view draws with now."""
        session = self.current.session
        truth = session.ground_truth() if session is not None else None
        step = self.levels.step()
        state = self.levels.state
        return self.view_state.options(self.levels.mask(), truth, state.states(step), state.caption(step))

    def set_mode(self, mode: str) -> None:
        """A view mode (renderer MODES_2D / MODES_3D); an unknown one is said in the status bar."""
        try:
            self.view_state.set_mode(mode)
        except ValueError as error:
            self.status.say(str(error), True)

    def picture(self) -> np.ndarray:
        """The picture the field view last displayed (float32 (H, W, 4), not drawn again): in 2D
        the part showing the scene's extent, in 3D the whole view."""
        picture = self.field.image
        snapshot = self.field.shown_snapshot
        if snapshot is None or int(snapshot.config.dims) != 2:
            return picture.copy()
        height, width = picture.shape[:2]
        left, top, right, bottom = self.field.shown[1].scene_rect(width, height, image_size(snapshot))
        return picture[top:bottom, left:right].copy()

    # ---- a comparison's tiles
    def show_compare(self, session: CompareSession | None) -> None:
        """Split the view into `session`'s tiles, one per compared field under the view's camera
        (None: the scene's field again)."""
        self.compare, self._tile_set = session, None
        self.tiles.invalidate()

    def shown(self) -> ProgressiveView:
        """The live view on screen: the comparison's tiles, or the scene's field."""
        return self.tiles if self.compare is not None else self.field

    def snapshots(self) -> list[Snapshot]:
        """The fields the view shows: the compared ones, or the scene's."""
        if self.compare is not None:
            return list(self.compare.snapshots())
        snapshot = self.current.snapshot()
        return [snapshot] if snapshot is not None else []

    def _subject(self, snapshot: Snapshot) -> Snapshot | TileSet:
        """What the shown view draws: the scene's snapshot, or a TileSet of the compared fields'
        (a new one only when one of them or the comparison's state changed)."""
        if self.compare is None:
            return snapshot
        snapshots = tuple(self.compare.snapshots())
        state = "running" if self.compare.running else "paused"
        old = self._tile_set
        if old is None or old.state != state or any(a is not b for a, b in zip(old.snapshots, snapshots, strict=True)):
            self._tile_set = TileSet(snapshots, state, self.compare)
        return self._tile_set

    def update(self, snapshot: Snapshot, budget: float | None) -> bool:
        """Draw a little of the shown view (a frame's work); True when its picture changed. A field
        the view cannot draw is said in the status bar, and the window runs on."""
        try:
            return self.shown().update(
                self._subject(snapshot), self.view_state.camera, self.options(), self.view_state.moving, budget
            )
        except FieldscopeError as error:
            if self.status.message != str(error):
                self.status.say(str(error), True)
            return False

"""The Laplacian blocks of one level drawn over the view, coloured by state, and the block under
the mouse (its state and residual error, also said in the status bar)."""

from __future__ import annotations

from fieldscope.app.render.renderer import image_size
from fieldscope.app.state import blocks
from fieldscope.app.state.current import Current
from fieldscope.app.state.status import Status
from fieldscope.app.state.view import ViewState


class BlockOverlay:
    """`hovered`: the description of the block under the mouse (None: none)."""

    def __init__(self, current: Current, view_state: ViewState, status: Status) -> None:
        self.current, self.view_state, self.status = current, view_state, status
        self.hovered: str | None = None

    def show(self, level: int | None) -> bool:
        """Draw the Laplacian blocks of `level` coloured by state (None: no blocks)."""
        snapshot = self.current.snapshot()
        if level is None or level < 0:
            self.view_state.change(blocks=-1)
            return True
        if snapshot is None or not blocks.has_blocks(snapshot):
            kind = snapshot.config.kind if snapshot is not None else "no"
            self.status.say(f"{kind} fields have no Laplacian blocks (laplacian_blocks fields have)", True)
            return False
        self.view_state.change(blocks=max(0, min(snapshot.config.scales - 1, int(level))))
        return True

    def under(self, pointer: tuple[float, float]) -> blocks.BlockInfo | None:
        """The shown level's block under view pixel `pointer` (x, y from the view's top left): in
        2D the image point there, in 3D the slice plane's point."""
        snapshot = self.current.snapshot()
        state, shown = self.view_state, self.view_state.settings
        if snapshot is None or shown.blocks < 0:
            return None
        if state.dims == 3:
            point = state.camera.slice_point(*state.size, pointer, shown.slice_axis, shown.slice_position)
            return blocks.block_at(snapshot, shown.blocks, point) if point is not None else None
        origin, axis_x, axis_y = state.camera.mapping(*state.size, image_size(snapshot))
        u, v = pointer[0] / state.size[0], pointer[1] / state.size[1]
        return blocks.block_at(snapshot, shown.blocks, origin + u * axis_x + v * axis_y)

    def hover(self, pointer: tuple[float, float] | None) -> None:
        """The mouse is over view pixel `pointer` (None: not over the view): with blocks shown, the
        status bar says which block it is, its state and residual error."""
        found = self.under(pointer) if pointer is not None else None
        text = found.describe() if found is not None else None
        if text is not None and text != self.hovered:
            self.status.say(text)
        self.hovered = text

"""The comparison the window runs: 2-4 field kinds on the current scene at an equal parameter budget,
trained side by side in a CompareSession (app/state/compare.py) while the scene's own trainer
pauses, shown as tiles in the view; their NTK spectra computed on request. `message` is the last
thing it said (also said in the status bar)."""

from __future__ import annotations

from collections.abc import Sequence

from fieldscope.app.state.compare import CompareSession, NtkJob
from fieldscope.app.state.current import Current
from fieldscope.app.state.session import Session
from fieldscope.app.state.shown import Views
from fieldscope.app.state.status import Status
from fieldscope.app.state.training import Training
from fieldscope.fields.errors import FieldscopeError

PROMPT = "pick 2-4 kinds and a budget"


class Comparison:
    def __init__(self, current: Current, training: Training, views: Views, status: Status) -> None:
        self.current, self.training, self.views, self.status = current, training, views, status
        self.session: CompareSession | None = None  # the latest comparison (kept, stopped, after close)
        self.ntk: NtkJob | None = None
        self.message = PROMPT

    def start(self, kinds: Sequence[str], params: int) -> bool:
        """Fit `kinds` to `params` parameters each on the current scene and train them; False (and
        the reason in `message` and the status bar) when that cannot be done."""
        self.stop()
        scene_session = self.current.session
        if scene_session is None or scene_session.scene is None:
            return self._say("open a scene to compare fields on", error=True)
        try:
            session = CompareSession(scene_session.scene, list(kinds), int(params))
        except FieldscopeError as error:
            return self._say(str(error), error=True)
        self.training.pause()  # the CPU goes to the compared fields
        self.session, self.ntk = session, None
        counts = ", ".join(f"{k} {n:,}" for k, n in zip(session.kinds, session.counts(), strict=True))
        session.start()
        self.views.show_compare(session)
        return self._say(f"training side by side (equal steps): {counts} parameters")

    def stop(self) -> None:
        if self.session is not None:
            self.session.stop()

    def close(self) -> None:
        """Stop the comparison and show the scene's field in the view again."""
        self.stop()
        self.views.show_compare(None)

    @property
    def shown(self) -> bool:
        """The view shows the comparison's tiles."""
        return self.views.compare is not None

    def start_ntk(self) -> bool:
        if self.session is None:
            return self._say("start a comparison first", error=True)
        snapshots = self.session.snapshots()
        self.ntk = NtkJob(snapshots)
        step = snapshots[0].step if snapshots else 0
        return self._say(f"computing NTK spectra at step {step} in the background ...")

    def say_ntk(self) -> None:
        """Say the spectra's smallest eigenvalues (once they are known)."""
        results = self.ntk.results() if self.ntk is not None else None
        if results is not None:
            step = results[0]["step"] if results else 0
            mins = ", ".join(f"{r['field']} min {r['min_eigenvalue']:.2e}" for r in results)
            self._say(f"NTK spectra at step {step}: {mins}")

    def on_session(self, session: Session) -> None:
        """A new scene: a comparison on another scene is closed and forgotten."""
        if self.session is not None and self.session.scene is not session.scene:
            self.close()
            self.session = None

    def _say(self, message: str, error: bool = False) -> bool:
        self.message = message
        self.status.say(message, error)
        return not error

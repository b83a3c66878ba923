"""What the Scene and Training panels say: scene facts as rows a person reads (no matrices, no
camera lists), the task's quality metric in the plots (IoU for meshes, PSNR for pictures), and a
loss axis fitted to the data (not down to 1e-308)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import trimesh

from fieldscope.app.state.history import SMALLEST_POSITIVE, History, axis_limits
from fieldscope.app.state.session import describe_scene
from fieldscope.fields import snapshot as snapshots
from fieldscope.fields.scenes import open_scene
from fieldscope.fields.training.trainer import Snapshot
from tests.fields.nerf_synthetic import write_dataset


def facts_snapshot(facts: dict[str, Any], metrics: dict[str, float] | None = None, loss: float = 1e-2) -> Snapshot:
    """A snapshot carrying only scene facts and metrics (what the panels read)."""
    return Snapshot(
        version=1,
        step=11,
        elapsed=40.0,
        loss=loss,
        metrics=metrics or {},
        config=None,
        level_mask=(),
        params={},
        scene=facts,
    )


def sdf_facts(tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "ball.ply"
    path.write_bytes(trimesh.creation.icosphere(subdivisions=2).export(file_type="ply"))
    return open_scene(path, "sdf", eval_resolution=16, iou_resolution=16).describe()


def nerf_facts(tmp_path: Path) -> dict[str, Any]:
    return open_scene(write_dataset(tmp_path / "nerf", train=4, test=3, size=8), "nerf").describe()


def check_readable(rows: list[tuple[str, str]]) -> dict[str, str]:
    for label, value in rows:
        line = f"{label}: {value}"
        assert len(line) <= 80, line
        assert "[[" not in line and "{" not in line and "}" not in line, line
    return dict(rows)


def test_an_sdf_scene_reads_as_triangles_and_a_world_box(tmp_path: Path) -> None:
    rows = check_readable(describe_scene(facts_snapshot(sdf_facts(tmp_path))))
    assert rows["task"] == "sdf" and rows["triangles"] == "320" and rows["vertices"] == "162"
    assert rows["world box"].startswith("x -")  # the unit cube in the mesh's own units


def test_a_nerf_scene_reads_as_view_counts_not_cameras(tmp_path: Path) -> None:
    facts = nerf_facts(tmp_path)
    assert len(facts["test_views"]) == 3 and "unit_from_world" in facts
    rows = check_readable(describe_scene(facts_snapshot(facts)))
    assert rows["views"] == "4 train, 3 test" and rows["size"] == "8 x 8"
    assert not any("test_views" in label or "head" in label for label in rows)


def test_an_image_scene_reads_as_its_size_and_channels(astronaut_path: Path) -> None:
    scene = open_scene(astronaut_path)
    rows = check_readable(describe_scene(facts_snapshot(scene.describe())))
    assert rows["size"] == f"{scene.width} x {scene.height}" and rows["channels"] == "3"


def test_the_history_of_an_sdf_model_carries_iou_and_chamfer_not_psnr() -> None:
    history = History()
    first = facts_snapshot({"task": "sdf"}, {"l1": 0.01, "iou": 0.97})
    history.add(first)
    history.add(replace(first, step=12, elapsed=41.0, metrics={"iou": 0.98, "chamfer": 0.0011}))
    assert history.metric("iou").values == [0.97, 0.98] and history.metric("iou").times == [40.0, 41.0]
    assert history.metric("chamfer").values == [0.0011]
    assert history.metric("psnr").values == []


def test_the_history_of_an_image_model_carries_psnr() -> None:
    history = History()
    history.add(facts_snapshot({"task": "image"}, {"psnr": 31.5}))
    assert history.metric("psnr").values == [31.5] and history.metric("iou").values == []


@pytest.mark.parametrize("losses", [[9.3e-3], [0.0, 2e-3, 1e-4], [5e-324, 1e-2]])
def test_the_loss_axis_stays_near_the_data(losses: list[float]) -> None:
    history = History()
    for step, loss in enumerate(losses):
        history.add(replace(facts_snapshot({"task": "sdf"}, loss=loss), step=step, elapsed=float(step)))
    positive = [v for v in history.losses if v >= SMALLEST_POSITIVE]  # a denormal loss is an underflowed zero
    low, high = axis_limits(history.losses, log=True)
    assert low <= min(positive) and max(positive) <= high
    assert low >= min(positive) / 1e3 and high <= max(positive) * 1e3


def test_a_loaded_model_shows_its_loss_on_a_fitted_axis(app: Any, sphere_snapshot: Any, tmp_path: Path) -> None:
    import dearpygui.dearpygui as dpg

    from fieldscope.app.ui.panels.training import TrainingPanel
    from tests.app.conftest import open_fresh

    path = tmp_path / "loaded.fsnap"
    snapshots.save(path, sphere_snapshot)
    open_fresh(app, path)
    assert app.session.name == "loaded.fsnap"
    panel = next(p for p in app.window.panels if isinstance(p, TrainingPanel))
    loss = sphere_snapshot.loss

    def fitted() -> bool:  # once the panels refreshed (a few times a second)
        low, high = dpg.get_axis_limits(panel.loss_y)
        return low <= loss <= high and low > loss / 1e3

    assert app.run_until(fitted, 60), dpg.get_axis_limits(panel.loss_y)
    assert dpg.get_item_configuration(panel.quality_y)["label"] == "IoU"

"""The OpenGL context the renderer draws into: a standalone (offscreen) GLX context.

Create it BEFORE DearPyGui's viewport is shown (dpg.show_viewport()): both then live side by side
in one process, and every draw makes ours current for its duration (`with ctx:`), so DearPyGui's
context is restored afterwards. An EGL context does not coexist with DearPyGui, so we use GLX.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
from collections.abc import Callable

import moderngl

from fieldscope.fields.errors import FieldscopeError

GL_VERSION = 430  # compute-capable GL (SSBOs)


class NoDisplayError(FieldscopeError):
    """No X display to open windows or GL contexts on."""


def has_display() -> bool:
    """True when an X display is named (DISPLAY set)."""
    return bool(os.environ.get("DISPLAY"))


def create_context() -> moderngl.Context:
    """A moderngl standalone context with OpenGL 4.3 or newer: GLX, or EGL when FIELDSCOPE_GL=egl
    (headless machines with a GPU; not together with the window); NoDisplayError without one."""
    if os.environ.get("FIELDSCOPE_GL") == "egl":
        return moderngl.create_context(standalone=True, require=GL_VERSION, backend="egl")
    if not has_display():
        raise NoDisplayError("no display (DISPLAY is not set)")
    try:
        return moderngl.create_context(standalone=True, require=GL_VERSION)
    except Exception as error:  # glcontext raises plain Exceptions for a missing or broken display
        raise NoDisplayError(f"no usable OpenGL 4.3 display ({error})") from None


def headless_context() -> moderngl.Context:
    """An offscreen context for commands without a window (`render --camera-path --mode`, `fit
    --timelapse --mode`): EGL (no display needed; Mesa's llvmpipe on a machine without a GPU), else
    GLX on the display; NoDisplayError when neither opens."""
    try:
        return moderngl.create_context(standalone=True, require=GL_VERSION, backend="egl")
    except Exception as egl:  # glcontext raises plain Exceptions
        if not has_display():
            raise NoDisplayError(f"no usable OpenGL 4.3: EGL failed ({egl}) and no display is set") from None
        return create_context()


@functools.cache
def _gl_finish() -> Callable[[], None] | None:
    """libGL's glFinish called through ctypes, or None where there is no libGL."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("GL") or "libGL.so.1").glFinish
    except (OSError, AttributeError):
        return None


def finish_drawing() -> None:
    """Wait for the current context's drawing to finish, letting other Python threads run.

    moderngl holds the GIL in every call, and a read waits for the whole draw (on llvmpipe, seconds
    of shading on every core): the trainer thread stood still for as long. ctypes releases the GIL
    around a foreign call, so a draw followed by this wait costs the trainer only the cores."""
    finish = _gl_finish()
    if finish is not None:
        finish()


def gl_info(ctx: object) -> dict[str, str]:
    """Who draws: {"gl_vendor", "gl_renderer", "gl_version"} of a moderngl context (on a headless
    GPU machine EGL may well be Mesa's CPU rasterizer, not the GPU)."""
    info = getattr(ctx, "info", {})
    return {
        "gl_vendor": str(info.get("GL_VENDOR", "?")),
        "gl_renderer": str(info.get("GL_RENDERER", "?")),
        "gl_version": str(info.get("GL_VERSION", "?")),
    }


def gl_description(ctx: object) -> str:
    """'OpenGL 4.5 (Core Profile) Mesa 24.2.8 on llvmpipe (LLVM 19.1.7, 256 bits)' and the like."""
    info = gl_info(ctx)
    return f"OpenGL {info['gl_version']} on {info['gl_renderer']} ({info['gl_vendor']})"

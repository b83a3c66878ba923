"""What the window holds and shows, without the window (no DearPyGui or GL): the session, the view, levels, jobs
and exports, the comparison lab, flow, and the inside views' data."""

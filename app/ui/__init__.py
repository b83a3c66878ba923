"""The desktop window (DearPyGui): the App, its panels, the view and drag and drop."""

"""The shells people use: the command line and the web app. They call `Assistant` and render."""

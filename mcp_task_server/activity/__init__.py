"""The activity log of task changes, and undo."""

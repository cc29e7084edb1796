"""Scheduled downloads (issue 15): schedules, their runs, and the tick that starts them."""

"""Helpers shared by the vdm tests (a uniquely named module: ``conftest`` names clash across test folders)."""

from dsg import EventSchedule, schedule_to_dsg

F = 4


def make_graph(first="move left", second="jump"):
    s = EventSchedule.from_tuples([("red circle", first, None, (0, 1)), ("blue square", second, None, (1, 2))])
    return schedule_to_dsg(s, text=f"the red circle {first}s, then the blue square {second}s")

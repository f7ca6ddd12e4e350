"""The routing simulator: replay a past period through a routing configuration and a roster.

Pure (no I/O): the ticket log's adapter reads the :class:`History` (``log.replay``), the command reads the
files. The API a caller needs::

    history = History(since, until, contacts, customers)
    current = Scenario.from_config(load_routing_config("handoff/routing.yml"), roster)
    candidate = Scenario.from_config(candidate_config, candidate_roster)
    comparison = compare(history, current, candidate, seeds=5, target_seconds=120)
    comparison.as_dict()     # figures with their spread, both scenarios, and the period's measured ones
    render(comparison)       # the side-by-side table the command prints

:mod:`~handoff.core.replay.engine` has the model and its assumptions; docs/capacity.md the validation.
"""

from handoff.core.replay.engine import Replay, Scenario
from handoff.core.replay.history import Contact, CustomerStart, History, PatienceCurve
from handoff.core.replay.results import Comparison, Spread, compare, run_figures, simulate
from handoff.core.replay.roster import Roster, RosterAgent, roster_from_config
from handoff.core.replay.table import render

__all__ = ["Comparison", "Contact", "CustomerStart", "History", "PatienceCurve", "Replay", "Roster",
           "RosterAgent", "Scenario", "Spread", "compare", "render", "roster_from_config", "run_figures",
           "simulate"]

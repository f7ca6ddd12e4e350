"""The handoff service's behaviour, independent of HTTP: a thin facade over small parts (see
:mod:`handoff.service.facade`), given their collaborators through ports (:mod:`handoff.service.ports`);
:mod:`handoff.service.wiring` builds it on the adapters the settings name.
"""

from handoff.service.facade import HandoffService

__all__ = ["HandoffService"]

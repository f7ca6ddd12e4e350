"""The handoff service's behaviour, independent of HTTP: one object the web layer calls.

Split by side: :mod:`.customers` (start, talk to the bot, escalate), :mod:`.dispatch` (route the queue,
sweep unanswered assignments and abandoned queues), :mod:`.agents` (take, answer, transfer, hand back,
resolve), :mod:`.views` (what clients see). Every state change goes through the store's atomic operations
and is recorded, with its time and cause, in the ticket log.
"""

from handoff.service.agents import Agents as HandoffService

__all__ = ["HandoffService"]

"""E-mail as a channel: inbound mail parsed (:mod:`.parse`), received by an SMTP listener (:mod:`.listener`),
and replies sent through an SMTP relay with their threading headers (:mod:`.outbound`)."""

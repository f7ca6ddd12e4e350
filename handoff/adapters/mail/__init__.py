"""E-mail as a channel: inbound mail parsed (:mod:`.parse`), received by an SMTP listener (:mod:`.listener`) or
fetched from an existing mailbox (:mod:`.imap`), and replies sent through an SMTP relay (:mod:`.outbound`)."""

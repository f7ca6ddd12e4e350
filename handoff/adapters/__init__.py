"""What stands behind the service's ports: the live store, the ticket log, the Rasa client, the knowledge base."""

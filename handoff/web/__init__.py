"""The HTTP and WebSocket side: the FastAPI application, its REST routers, the socket gateway, the static pages."""

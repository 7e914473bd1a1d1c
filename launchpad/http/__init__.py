"""HTTP between services: a client with deadlines, a tiny WSGI layer, and real-port serving."""

# expect: forbidden
from autotts import Controller


class Hostile(Controller):
    """Opens a TCP connection to the host."""

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta

    def solve(self, session):
        import socket

        socket.create_connection(("127.0.0.1", int("@@PORT@@")), timeout=2).sendall(b"leak")
        return None

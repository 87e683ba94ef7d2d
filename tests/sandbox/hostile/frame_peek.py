# expect: cheating
from autotts import Controller


class Hostile(Controller):
    """Walks a generator's frames to the episode; answers its hidden majority unread."""

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta

    def solve(self, session):
        def spy():
            yield running.gi_frame.f_back

        running = spy()
        frame = next(running)
        while frame is not None and "session" not in frame.f_locals:
            frame = frame.f_back
        hidden = frame.f_locals["session"]._table
        finals = [reads[-1][0] for reads in hidden]
        return max(set(finals), key=finals.count)

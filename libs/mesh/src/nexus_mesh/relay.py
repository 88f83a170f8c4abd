"""A relay stage: every entry of one stream re-published on another, one hop of the mesh.

The smallest real service on the StreamProcessor; the foundation's tests and `bench/hop.py` use it.
Output ids are derived from the input id, so a redelivered input republishes as a no-op.
"""

from __future__ import annotations

from collections.abc import Iterable

import redis

from nexus_mesh.context import Context
from nexus_mesh.processor import Input, StreamProcessor
from nexus_mesh.publish import Output
from nexus_mesh.runner import run_service
from nexus_mesh.settings import MeshSettings
from nexus_protocol.codec import Envelope
from nexus_protocol.messages import Message


class RelaySettings(MeshSettings):
    service: str = "relay"
    relay_from: str = "relay:in"  # logical stream names
    relay_to: str = "relay:out"
    # fault injection on messages whose id starts with these ("": never): an I/O error (retried),
    # a refusal (a ValueError: dead-lettered at once)
    relay_fail_prefix: str = ""
    relay_refuse_prefix: str = ""


def build(settings: RelaySettings, client: redis.Redis) -> StreamProcessor:
    target = settings.names.stream(settings.relay_to)

    def relay(env: Envelope[Message], ctx: Context) -> Iterable[Output]:
        if settings.relay_fail_prefix and env.id.startswith(settings.relay_fail_prefix):
            raise OSError(f"injected I/O failure for {env.id}")
        if settings.relay_refuse_prefix and env.id.startswith(settings.relay_refuse_prefix):
            raise ValueError(f"injected refusal of {env.id}")
        yield Output(target, env.derive(env.body, id=f"{env.id}>relay"))

    return StreamProcessor(
        settings, [Input(settings.names.stream(settings.relay_from), relay)], client=client
    )


def main() -> int:
    return run_service(RelaySettings, build)


if __name__ == "__main__":
    raise SystemExit(main())

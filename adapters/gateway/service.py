"""Running the gateway: bus connection, one pipeline per sender and family, the HTTP site."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import structlog
from aiohttp import web

from adapters.catalogue import load_catalogue
from adapters.gateway.app import GatewayState, build_app
from adapters.gateway.config import GatewayConfig
from adapters.gateway.intake import Intake
from adapters.gateway.limits import Admission
from adapters.sdk.pipeline import family_stream, open_pipeline
from bus.connect import open_bus
from bus.heartbeat import Heartbeat
from bus.publisher import Publisher
from bus.settings import Settings
from bus.streams import ensure_streams

log = structlog.get_logger(__name__)

SHUTDOWN_WAIT_S = 30.0
"""How long a stop waits for requests already taken to get their outcomes."""

ReadyHook = Callable[[str, int], None]
"""Called with the host and port once the gateway listens."""


async def serve_gateway(
    settings: Settings, config: GatewayConfig, *, ready: ReadyHook | None = None
) -> None:
    """Serve until cancelled; then stop taking requests and answer those already taken."""
    async with open_bus(settings, name="zwbus-gateway") as (client, js):
        await ensure_streams(js)
        catalogue = await load_catalogue(js)
        async with Publisher(client) as publisher, contextlib.AsyncExitStack() as stack:
            intakes: dict[tuple[str, str], Intake] = {}
            for sender in config.clients.values():
                for family, profile in sender.profiles.items():
                    heartbeat = await stack.enter_async_context(
                        Heartbeat(
                            client,
                            "adapter",
                            f"gateway-{sender.id}-{family}",
                            stream=family_stream(profile),
                        )
                    )
                    pipeline = await open_pipeline(client, js, publisher, profile, catalogue)
                    intakes[(sender.id, family)] = Intake(
                        pipeline,
                        client_id=sender.id,
                        family=family,
                        heartbeat=heartbeat,
                        batch_wait_s=config.batch_wait_s,
                    )

            state = GatewayState(
                config=config,
                intakes=intakes,
                bus_connected=lambda: client.is_connected,
                admission=Admission(config.max_pending_records),
            )
            workers = [asyncio.create_task(intake.run()) for intake in intakes.values()]
            runner = web.AppRunner(
                build_app(state), shutdown_timeout=SHUTDOWN_WAIT_S, access_log=None
            )
            await runner.setup()
            try:
                site = web.TCPSite(runner, config.host, config.port)
                await site.start()
                host, port = _bound_address(runner, config)
                log.info("gateway_started", host=host, port=port, senders=len(config.clients))
                if ready is not None:
                    ready(host, port)
                await asyncio.Event().wait()
            finally:
                await asyncio.shield(_stop(runner, workers))
                log.info("gateway_stopped", counters=dict(state.counters))


def _bound_address(runner: web.AppRunner, config: GatewayConfig) -> tuple[str, int]:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return str(address[0]), int(address[1])
    return config.host, config.port


async def _stop(runner: web.AppRunner, workers: list[asyncio.Task[None]]) -> None:
    # Stop listening and let the requests already taken get their outcomes,
    # which needs the workers, before the workers stop.
    await runner.cleanup()
    for worker in workers:
        worker.cancel()
    await asyncio.gather(*workers, return_exceptions=True)

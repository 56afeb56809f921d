"""Stop whatever a notebook left running, so that it ends as it began."""

from .clients import open_sessions
from .server import running_servers


async def cleanup() -> str:
    """Close every open client and stop every running server; say what was done."""
    sessions = list(open_sessions)
    servers = list(running_servers)
    for session in sessions:
        await session.close()
    for server in servers:
        await server.stop()
    return f"Closed {len(sessions)} connection(s) and stopped {len(servers)} server(s)."

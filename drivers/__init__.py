"""Device drivers: one sub-package per protocol, each a pure codec plus an asyncio transport adapter."""

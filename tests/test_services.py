"""The service fixtures reach the real servers: a database per module that takes writes, a broker that delivers."""

from __future__ import annotations

import asyncio

import aiomqtt
import psycopg
import pytest


@pytest.mark.postgres
def test_postgres_database_is_fresh_and_writable(postgres_url: str) -> None:
    with psycopg.connect(postgres_url) as conn:
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()
        assert tables == (0,)
        conn.execute("CREATE TABLE probe (id int PRIMARY KEY, note text)")
        conn.execute("INSERT INTO probe VALUES (1, '临时车')")
        assert conn.execute("SELECT note FROM probe").fetchone() == ("临时车",)
        name = conn.execute("SELECT current_database()").fetchone()
        assert name is not None
        assert str(name[0]).startswith("pg_tests_test_services")


@pytest.mark.mqtt
async def test_mqtt_round_trip_on_unique_topic(mqtt_broker: tuple[str, int], mqtt_topic: str) -> None:
    host, port = mqtt_broker
    async with aiomqtt.Client(host, port) as sub, aiomqtt.Client(host, port) as pub:
        await sub.subscribe(f"{mqtt_topic}/#", qos=1)
        await pub.publish(f"{mqtt_topic}/probe", b"\x01plate", qos=1)
        async with asyncio.timeout(5):
            async for message in sub.messages:
                assert str(message.topic) == f"{mqtt_topic}/probe"
                assert message.payload == b"\x01plate"
                break

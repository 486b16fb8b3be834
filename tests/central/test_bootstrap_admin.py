"""The first admin when several central processes start on one empty database at once (``central run --workers``)."""

from __future__ import annotations

import threading

from sqlalchemy import Engine, func, insert, select, text
from sqlalchemy.orm import sessionmaker

from central.core.security import Role, verify_password
from central.main import bootstrap_admin
from central.models import User
from tests.central.conftest import PASSWORD, password_hash


def test_the_process_that_loses_the_race_for_the_first_admin_starts_anyway(central_engine: Engine) -> None:
    with central_engine.begin() as conn:
        conn.execute(text("TRUNCATE users RESTART IDENTITY CASCADE"))
    sessions = sessionmaker(central_engine)
    failures: list[BaseException] = []
    with central_engine.connect() as rival:
        # Another worker has inserted 'admin' and not committed yet: this one still counts no user, inserts, and
        # waits on the unique username until the rival commits, then is refused by it.
        rival.execute(insert(User).values(username="admin", full_name="Administrator", role=Role.ADMIN.value,
                                          password_hash=password_hash(), active=True))  # fmt: skip

        def start() -> None:
            try:
                bootstrap_admin(sessions, "another password")
            except BaseException as err:
                failures.append(err)

        starting = threading.Thread(target=start)
        starting.start()
        starting.join(timeout=3)
        assert starting.is_alive(), "the second insert should wait for the rival's transaction"
        rival.commit()
        starting.join(timeout=10)
    assert not starting.is_alive()
    assert failures == []
    with central_engine.connect() as conn:
        admins = conn.execute(select(User.password_hash).where(User.username == "admin")).scalars().all()
        assert conn.scalar(select(func.count()).select_from(User)) == 1
    assert len(admins) == 1
    assert verify_password(PASSWORD, admins[0])  # the rival's admin is kept, not replaced

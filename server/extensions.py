"""Flask extensions, created unbound and attached in the application factory."""

import enum

from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Enum
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Declarative base shared by every model."""


db = SQLAlchemy(model_class=Base)
migrate = Migrate()

# The largest PostgreSQL bigint (versions, audit entry ids): a larger integer from a client is a
# 422 on its field, not a NumericValueOutOfRange from the database.
BIGINT_MAX = 2**63 - 1


def str_enum(cls: type[enum.StrEnum], name: str) -> Enum:
    """A PostgreSQL enum type storing the members' values (not their Python names)."""
    return Enum(cls, name=name, values_callable=lambda e: [m.value for m in e])

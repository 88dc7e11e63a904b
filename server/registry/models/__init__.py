"""Registry models; importing the package registers every table with the metadata."""

from server.registry.models.address import Address
from server.registry.models.house import House
from server.registry.models.incident import Incident
from server.registry.models.organization import Organization
from server.registry.models.person import Household, HouseholdMember, Person, SpecialPopulation
from server.registry.models.work import FollowUpPlan, Task, Visit

__all__ = [
    "Address",
    "FollowUpPlan",
    "House",
    "Household",
    "HouseholdMember",
    "Incident",
    "Organization",
    "Person",
    "SpecialPopulation",
    "Task",
    "Visit",
]

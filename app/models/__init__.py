"""Every aggregate's models, re-exported so Alembic and callers see one namespace."""
from app.models.address import Address
from app.models.alert import Alert
from app.models.audit import AuditLog
from app.models.base import utcnow
from app.models.case_check import CaseCheck, CaseImport, MissedRegistration
from app.models.claim import OwnershipClaim
from app.models.declaration import Declaration, DeclarationEvent
from app.models.employer import Employer, Employment
from app.models.house import House, PledgeVersion
from app.models.idempotency import IdempotentRequest
from app.models.jurisdiction import Branch, Community, PoliceArea, Station
from app.models.kpi import (
    ConsoleNotice, KpiAggregate, KpiAggregateState, KpiReport, KpiThreshold,
)
from app.models.officer import Officer
from app.models.outbox import OutboxJob
from app.models.penalty import Penalty
from app.models.person import Person, PersonChange, Residence
from app.models.push import PushMessage
from app.models.reminder import Reminder
from app.models.spot_check import (
    SpotCheck, SpotCheckPerson, SpotCheckPlan, SpotCheckPlanItem,
)
from app.models.watch import ChecklistTemplate, ControlTask, Watch
from app.models.wechat_user import WeChatUser

__all__ = [
    "Address", "Alert", "AuditLog", "Branch", "CaseCheck", "CaseImport", "ChecklistTemplate",
    "Community",
    "ConsoleNotice", "ControlTask", "Declaration", "DeclarationEvent", "Employer", "Employment",
    "House", "IdempotentRequest", "KpiAggregate", "KpiAggregateState", "KpiReport",
    "KpiThreshold", "MissedRegistration", "Officer", "OutboxJob", "OwnershipClaim", "Penalty",
    "Person", "PersonChange", "PledgeVersion", "PoliceArea", "PushMessage", "Reminder",
    "Residence", "SpotCheck", "SpotCheckPerson", "SpotCheckPlan",
    "SpotCheckPlanItem", "Station", "Watch", "WeChatUser", "utcnow",
]

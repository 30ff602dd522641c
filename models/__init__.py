"""SQLAlchemy 2 typed ORM models, one module per aggregate; importing this registers them all."""

from models.audit import AuditLog, BackupRun, OperationalLog
from models.auth import ApiToken
from models.base import Base
from models.document_requests import DocumentRequest, RequestItem, RequestTemplate
from models.documents import FiscalDocument, FiscalEvent, StoredFile, Upload, UploadFile
from models.empresas import Contact, Empresa, Staff
from models.guides import Guide, GuideEvent
from models.ledger import PayrollEntry, RevenueEntry
from models.notifications import DeliveryAttempt, Notification
from models.obligations import CompanyObligation, Holiday, Obligation, Tarefa
from models.office import OfficeSetting
from models.orders import Order, OrderAttachment

__all__ = [
    "ApiToken",
    "AuditLog",
    "BackupRun",
    "Base",
    "CompanyObligation",
    "Contact",
    "DeliveryAttempt",
    "DocumentRequest",
    "Empresa",
    "FiscalDocument",
    "FiscalEvent",
    "Guide",
    "GuideEvent",
    "Holiday",
    "Notification",
    "Obligation",
    "OfficeSetting",
    "OperationalLog",
    "Order",
    "OrderAttachment",
    "PayrollEntry",
    "RequestItem",
    "RequestTemplate",
    "RevenueEntry",
    "Staff",
    "StoredFile",
    "Tarefa",
    "Upload",
    "UploadFile",
]

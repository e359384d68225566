"""Issued form instances: unique short IDs with a check character, and their register."""

from paperfallback.register.ids import (
    check_character,
    format_downtime_number,
    format_instance_id,
    validate_downtime_number,
    validate_instance_id,
)
from paperfallback.register.store import (
    COVER_FORM_ID,
    IdAllocator,
    IssuedForm,
    MemoryAllocator,
    Register,
    pc_code_for,
    printed_spo2_scales,
)

__all__ = [
    "COVER_FORM_ID",
    "IdAllocator",
    "IssuedForm",
    "MemoryAllocator",
    "Register",
    "check_character",
    "format_downtime_number",
    "format_instance_id",
    "pc_code_for",
    "printed_spo2_scales",
    "validate_downtime_number",
    "validate_instance_id",
]

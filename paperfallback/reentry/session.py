"""One clerk keying one printed form in one pass: validate, save at once, check NEWS2.

The keying screen and the workbook importer both go through :class:`KeyingSession`, so
a value is checked the same way wherever it comes from, and every accepted value is in
the work store (its own committed transaction) before the cursor moves on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from paperfallback.domain.errors import InputError
from paperfallback.reentry import mar_doses
from paperfallback.reentry.layout import FormLayout, KeyedSection, day_section_id
from paperfallback.reentry.model import Entry, EntryPass, EntryState, FieldAddress
from paperfallback.reentry.news2_check import (
    TOTAL_FIELD,
    ColumnScore,
    check_column,
    column_score,
    is_news2_chart,
)
from paperfallback.reentry.printed import printed_day_dates
from paperfallback.reentry.printed_rows import section_references, split_reference
from paperfallback.reentry.running_totals import check_section, running_fields
from paperfallback.reentry.store import EntriesStore, FieldWrite
from paperfallback.reentry.validation import (
    KeyingContext,
    Parsed,
    check_time_point,
    entry_state_of,
    parse_value,
)
from paperfallback.register import IssuedForm


@dataclass(frozen=True, slots=True)
class FieldOutcome:
    """What happened to a keyed field: the value as understood, and any notice."""

    address: FieldAddress
    state: EntryState
    shown: str
    changed: bool
    notice: str = ""  # e.g. a NEWS2 total that differs from the keyed parameters


class KeyingSession:
    """Keying of one form instance by one named clerk, in one pass."""

    def __init__(
        self,
        store: EntriesStore,
        layout: FormLayout,
        printed: IssuedForm,
        *,
        clerk: str,
        entry_pass: EntryPass = EntryPass.FIRST,
        ctx: KeyingContext | None = None,
        source: str = "screen",
    ) -> None:
        if not clerk.strip():
            raise InputError("name the clerk before keying (who keyed it is recorded)")
        self.store = store
        self.layout = layout
        self.printed = printed
        self.clerk = clerk.strip()
        self.entry_pass = entry_pass
        self.ctx = ctx or KeyingContext(printed_at=printed.printed_at)
        self.source = source
        record = store.instance(printed.instance_id)
        if (entry_pass is EntryPass.SECOND and record is not None
                and record.first_clerk.casefold() == self.clerk.casefold()):
            # Blind double entry needs a second person: refuse before a value is keyed.
            raise InputError(
                f"{self.clerk} keyed the first pass of {printed.instance_id}: the second "
                "keying must be done blind by another clerk"
            )
        store.ensure_instance(printed.instance_id, layout.form_id, patient_id=printed.patient_id)

    # ---- reading ----------------------------------------------------------------------------

    def address(self, section_id: str, index: int, field_id: str) -> FieldAddress:
        return FieldAddress(self.printed.instance_id, section_id, index, field_id)

    def values(self) -> dict[FieldAddress, Entry]:
        """Everything keyed so far in this pass (reopening continues from here)."""
        return {e.address: e for e in self.store.entries(self.printed.instance_id, self.entry_pass)}

    def resume_point(self) -> FieldAddress | None:
        """The first field after the last one keyed, in paper order: where to carry on."""
        keyed = self.values()
        order = list(self.addresses())
        last = max((i for i, a in enumerate(order) if a in keyed), default=-1)
        for address in order[last + 1:]:
            if address not in keyed:
                return address
        return next((a for a in order if a not in keyed), None)

    def missing_required(self) -> list[FieldAddress]:
        """Required fields left empty: in plain sections, and in every chart column or
        table row that has anything keyed. Keying warns before a form is finished (the
        clerk types '-' where the paper really has nothing)."""
        keyed = self.values()
        used = {(a.section, a.index) for a in keyed}
        missing: list[FieldAddress] = []
        for section in self.layout.sections:
            for index in range(section.count):
                if section.repeats and (section.id, index) not in used:
                    continue
                missing.extend(
                    address for spec in section.fields if spec.required
                    if (address := self.address(section.id, index, spec.id)) not in keyed
                )
        return missing

    def addresses(self) -> list[FieldAddress]:
        """Every keyable field in paper order (chart columns one after another)."""
        out: list[FieldAddress] = []
        for section in self.layout.sections:
            for index in range(section.count):
                out.extend(self.address(section.id, index, f.id) for f in section.fields)
        return out

    # ---- writing ----------------------------------------------------------------------------

    def check(self, section_id: str, index: int, field_id: str, raw: object) -> Parsed:
        """Validate without saving (validation as you type); raises InputError."""
        section = self.layout.section(section_id)
        spec = section.field(field_id)
        where = section.index_label(index)
        try:
            hint = self._previous_time(section, index) if spec.type == "datetime" else None
            parsed = parse_value(spec, raw, self.ctx, day_hint=hint)
            if parsed.moment is not None:
                is_time_point = section.kind == "chart" and field_id == section.time_field
                check_time_point(
                    parsed.moment, self.ctx,
                    previous=self._previous_time(section, index) if is_time_point else None,
                    following=self._next_time(section, index) if is_time_point else None,
                    label=spec.label,
                )
            self._check_mar_cell(section, index, field_id, parsed)
        except InputError as exc:
            raise InputError(f"{where}: {exc}" if where else str(exc)) from None
        return parsed

    def _check_mar_cell(self, section: KeyedSection, index: int, field_id: str,
                        parsed: Parsed) -> None:
        """A day cell of a drug row (the field declaring the role ``administration``):
        initials or a code on the legend, and not dated after now (issue #13 item 11; the
        export reads the same rules from mar_doses)."""
        spec = section.field(field_id)
        day = mar_doses.day_number(field_id) if spec.role == "administration" else None
        if day is None or section.kind != "table":
            return
        mar_doses.read_mark(parsed.canonical)
        day_date = self._mar_day_date(section.id, day)
        dose_time = self._mar_dose_time(section, index)
        if day_date is None or not dose_time:
            return
        moment = mar_doses.dose_moment(day_date, dose_time)
        if moment is not None:
            mar_doses.check_not_after(moment, self.ctx.current(), day=day,
                                      dose_time=dose_time)

    def _mar_day_date(self, section_id: str, day: int) -> date | None:
        try:  # the dates section's n-th field (day_date_<n>), as the layout expanded it
            days = self.layout.section(day_section_id(section_id))
            keyed = self.store.entry(self.address(days.id, 0, days.fields[day - 1].id),
                                     self.entry_pass) if day <= len(days.fields) else None
        except KeyError:
            keyed = None
        if keyed is not None and keyed.state is EntryState.VALUE and keyed.value:
            try:
                return date.fromisoformat(keyed.value[:10])
            except ValueError:
                return None
        printed = printed_day_dates(self.printed, section_id)
        return printed[day - 1] if day <= len(printed) else None

    def _mar_dose_time(self, section: KeyedSection, index: int) -> str:
        field = next((f.id for f in section.fields if f.role == "dose_time"), None)
        keyed = self.store.entry(self.address(section.id, index, field),
                                 self.entry_pass) if field else None
        if keyed is not None and keyed.state is EntryState.VALUE and keyed.value:
            return keyed.value
        refs = section_references(self.printed, section.id)
        return split_reference(refs[index])[1] or "" if index < len(refs) else ""

    def enter(self, section_id: str, index: int, field_id: str, raw: object, *,
              source: str | None = None) -> FieldOutcome:
        """Validate and save one value (or an 'illegible' / 'not recorded' token);
        ``source`` names where it came from when not this session's (a confirmed tick)."""
        state = entry_state_of(raw) if isinstance(raw, str) else None
        if state is not None:
            return self.mark(section_id, index, field_id, state)
        parsed = self.check(section_id, index, field_id, raw)
        address = self.address(section_id, index, field_id)
        changed = self.store.save(
            address, self.entry_pass, parsed.canonical, EntryState.VALUE,
            clerk=self.clerk, form_id=self.layout.form_id, source=source or self.source,
        )
        return FieldOutcome(address, EntryState.VALUE, parsed.shown, changed,
                            self._after_save(section_id, index))

    def mark(self, section_id: str, index: int, field_id: str, state: EntryState) -> FieldOutcome:
        """Record that the paper is illegible or has nothing for this field."""
        self.layout.section(section_id).field(field_id)  # KeyError for a wrong id
        address = self.address(section_id, index, field_id)
        changed = self.store.save(
            address, self.entry_pass, None, state,
            clerk=self.clerk, form_id=self.layout.form_id, source=self.source,
        )
        shown = "[illegible]" if state is EntryState.ILLEGIBLE else "[not recorded]"
        return FieldOutcome(address, state, shown, changed, self._after_save(section_id, index))

    def clear(self, section_id: str, index: int, field_id: str) -> bool:
        changed = self.store.clear(
            self.address(section_id, index, field_id), self.entry_pass, clerk=self.clerk
        )
        if changed:
            self._after_save(section_id, index)
        return changed

    def save_row(self, section_id: str, index: int, writes: list[FieldWrite]) -> int:
        """Save already-checked values of one row or column together (workbook import)."""
        changed = self.store.save_many(
            writes, self.entry_pass, clerk=self.clerk, form_id=self.layout.form_id,
            source=self.source,
        )
        self._after_save(section_id, index)
        return changed

    # ---- NEWS2 ------------------------------------------------------------------------------

    def column_score(self, section_id: str, index: int) -> ColumnScore | None:
        section = self.layout.section(section_id)
        if section.kind != "chart" or not is_news2_chart(section.fields):
            return None
        values = self.store.column_entries(
            self.printed.instance_id, self.entry_pass, section_id, index
        )
        return column_score(self.layout.form.news2_values(section_id, values),
                            printed_scale=self.printed.spo2_scale)

    def _after_save(self, section_id: str, index: int) -> str:
        section = self.layout.section(section_id)
        if self.entry_pass is EntryPass.SECOND:
            return ""  # blind second keying: differences are found by the comparison
        if running_fields(section):
            wrong = [c for c in check_section(self.store, self.printed.instance_id, section,
                                              self.entry_pass, clerk=self.clerk)
                     if c.address.index == index]
            return wrong[0].notice if wrong else ""
        if section.kind != "chart" or not is_news2_chart(section.fields):
            return ""
        values = self.store.column_entries(
            self.printed.instance_id, self.entry_pass, section_id, index
        )
        result = check_column(  # fields by their declared NEWS2 roles
            self.store, self.printed.instance_id, section_id, index,
            self.layout.form.news2_values(section_id, values),
            printed_scale=self.printed.spo2_scale, clerk=self.clerk,
            total_field=self.layout.form.news2_fields(section_id).get("total", TOTAL_FIELD),
        )
        if result.differs and result.computed is not None:
            return (
                f"NEWS2 written as {result.handwritten} but the keyed observations score "
                f"{result.computed.total}: keep both as on the paper; flagged for the ward"
            )
        return ""

    # ---- chart time points -------------------------------------------------------------------

    def _time_at(self, section: KeyedSection, index: int) -> datetime | None:
        if section.time_field is None:
            return None
        entry = self.store.entry(
            self.address(section.id, index, section.time_field), self.entry_pass
        )
        if entry is None or entry.state is not EntryState.VALUE or not entry.value:
            return None
        try:
            return datetime.fromisoformat(entry.value)
        except ValueError:
            return None

    def _previous_time(self, section: KeyedSection, index: int) -> datetime | None:
        if section.kind != "chart" or section.axis != "columns":
            return None
        for i in range(index - 1, -1, -1):
            moment = self._time_at(section, i)
            if moment is not None:
                return moment
        return None

    def _next_time(self, section: KeyedSection, index: int) -> datetime | None:
        if section.kind != "chart" or section.axis != "columns":
            return None
        for i in range(index + 1, section.count):
            moment = self._time_at(section, i)
            if moment is not None:
                return moment
        return None

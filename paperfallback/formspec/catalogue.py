"""Load and validate ``forms/*.yaml``: a bad definition fails with file, key path and reason.

Adding a form is adding a YAML file: :func:`load_catalogue` picks up every ``*.yaml`` in
the folders it is given (the bundled ``forms/`` first, then any site folder).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from paperfallback.domain.errors import InputError
from paperfallback.formspec.models import FormSpec


def _safe_loader() -> Any:
    """libyaml's loader parses a form about 8x faster than the pure-Python one (issue
    #15: the pure loader was 6 % of a print command); the same safe subset of YAML, the
    same errors. Imported here: a run whose catalogue comes from the cache needs no YAML."""
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_form(path: Path) -> FormSpec:
    """Read one form definition; raise InputError naming the file, the key path and why."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the form definition: {exc}", where=str(path)) from exc
    import yaml

    try:
        raw = yaml.load(text, Loader=_safe_loader())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        reason = getattr(exc, "problem", None) or str(exc)
        raise InputError(f"not valid YAML: {reason}", where=where) from exc
    if not isinstance(raw, dict):
        raise InputError("a form definition must be a mapping of keys", where=str(path))
    try:
        spec = FormSpec.model_validate(raw)
    except ValidationError as exc:
        raise InputError(_describe(exc, raw), where=str(path)) from exc
    if spec.id != path.stem:
        raise InputError(
            f"id: the form id {spec.id!r} must match the file name {path.stem!r}", where=str(path)
        )
    return spec


def _describe(exc: ValidationError, raw: Any) -> str:
    """'sections[0].fields[2].type: Input should be ...' for the first errors."""
    parts = []
    for error in exc.errors()[:3]:
        path = _key_path(error["loc"], raw)
        message = error["msg"].removeprefix("Value error, ")
        parts.append(f"{path}: {message}" if path else message)
    more = exc.error_count() - len(parts)
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def _key_path(loc: tuple[int | str, ...], raw: Any) -> str:
    """Turn pydantic's location into a YAML key path, dropping union tags ('fields')."""
    text = ""
    node = raw
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
        elif isinstance(node, dict) and part in node:
            text += f".{part}" if text else part
            node = node[part]
        elif isinstance(node, dict) and node.get("kind") == part:
            continue  # the discriminated-union tag pydantic inserts
        else:
            text += f".{part}" if text else str(part)
            node = None
    return text


class FormCatalogue:
    """The forms available to print, key, import and export, by id.

    ``problems``: site forms that could not be loaded (file and reason); the other forms
    stay usable, so one bad YAML file pushed by IT never stops a ward printing.
    """

    def __init__(self, forms: Iterable[FormSpec], problems: Iterable[str] = ()) -> None:
        self._forms: dict[str, FormSpec] = {}
        self._order: list[str] = []
        for form in forms:
            if form.id not in self._forms:
                self._order.append(form.id)
            self._forms[form.id] = form  # a later folder overrides an earlier one
        self.problems: list[str] = list(problems)

    def __iter__(self) -> Iterator[FormSpec]:
        return iter(sorted(self._forms.values(), key=lambda f: f.id))

    def __len__(self) -> int:
        return len(self._forms)

    def __contains__(self, form_id: object) -> bool:
        return form_id in self._forms

    def ids(self) -> list[str]:
        return sorted(self._forms)

    def in_load_order(self) -> list[FormSpec]:
        """The forms as loaded: bundled first, then each site folder's."""
        return [self._forms[i] for i in self._order]

    def get(self, form_id: str) -> FormSpec:
        """A form by id; InputError listing the known forms when there is none."""
        try:
            return self._forms[form_id.strip().casefold()]
        except KeyError:
            raise InputError(
                f"no form {form_id!r}; forms are: {', '.join(self.ids()) or 'none'}"
            ) from None

    def resolve(self, form_ids: Iterable[str]) -> list[FormSpec]:
        return [self.get(f) for f in form_ids if f.strip()]

    def of_scope(self, scope: str) -> list[FormSpec]:
        """The forms of one scope in load order: bundled forms first, then site forms."""
        return [self._forms[i] for i in self._order if self._forms[i].scope == scope]


def site_catalogue(form_dirs: Iterable[str], data_dir: Path, *extra: Path) -> FormCatalogue:
    """The catalogue every command and window uses: the bundled ``forms/``, then each
    folder IT lists in ``settings.json`` (``form_dirs``, relative to the data folder),
    then ``extra`` folders (``print --forms-dir``).

    A listed site folder that is missing, or a site form that does not validate, is
    left out and named in ``problems`` (shown by the app, the CLI and ``self-test``),
    so the bundled forms still print. An ``extra`` folder is asked for explicitly on
    this command: there a mistake stops the command, naming the file and key path.

    The bundled and site forms come validated from the data folder's catalogue cache
    when no form file changed since (:mod:`paperfallback.formspec.catalogue_cache`);
    ``extra`` folders are always loaded from their files.
    """
    from paperfallback.formspec.catalogue_cache import CACHE_DIR, cached_catalogue
    from paperfallback.resources import forms_dir

    folders = [forms_dir()]
    for entry in form_dirs:
        folder = Path(entry).expanduser()
        folders.append(folder if folder.is_absolute() else data_dir / folder)
    base = cached_catalogue(data_dir / CACHE_DIR, folders, lambda: _load_site(folders))
    if not extra:
        return base
    return FormCatalogue([*base.in_load_order(), *load_catalogue(*extra)], base.problems)


def _load_site(folders: list[Path]) -> FormCatalogue:
    """The bundled folder (``folders[0]``, which must load) and the site folders."""
    forms = list(load_catalogue(folders[0]))
    problems: list[str] = []
    for folder in folders[1:]:
        if not folder.is_dir():
            problems.append(f"{folder}: the site forms folder (form_dirs) does not exist")
            continue
        for path in sorted(folder.glob("*.yaml")):
            try:
                forms.append(load_form(path))
            except InputError as exc:
                problems.append(str(exc))
    return FormCatalogue(forms, problems)


def load_catalogue(*folders: Path) -> FormCatalogue:
    """Every ``*.yaml`` form in ``folders`` (default: the bundled ``forms/``)."""
    if not folders:
        from paperfallback.resources import forms_dir

        folders = (forms_dir(),)
    forms: list[FormSpec] = []
    for folder in folders:
        if not folder.is_dir():
            raise InputError("the forms folder does not exist", where=str(folder))
        forms.extend(load_form(p) for p in sorted(folder.glob("*.yaml")))
    return FormCatalogue(forms)

"""What ingest does to personal data beyond the pattern redaction of pipeline.redact: person names
in text (spaCy NER, per language) and customer identifiers in metadata (salted hashes)."""

from __future__ import annotations

from dataclasses import dataclass, field

from models.person_names import NameRedactor
from pipeline.identifiers import IdentifierHasher, hasher_for
from pipeline.language import detect_languages


@dataclass(frozen=True)
class Privacy:
    hasher: IdentifierHasher | None = None
    names: NameRedactor | None = None
    languages: list[str] = field(default_factory=lambda: ["en", "fr"])
    default_language: str = "en"

    def redact_names(self, texts: list[str], given: list[str | None]) -> tuple[list[str], list[str | None]]:
        """(texts with person names replaced, the language of each: the given one, else detected).

        The languages are handed back so that ingest stores them and the prepare stage does not
        detect them a second time."""
        if self.names is None or not texts:
            return texts, list(given)
        todo = [i for i, lang in enumerate(given) if not lang]
        langs = list(given)
        if todo:
            found = detect_languages([texts[i] for i in todo], self.languages, self.default_language)
            for i, lang in zip(todo, found, strict=True):
                langs[i] = lang
        return self.names.redact(texts, langs), langs


def privacy_from(settings) -> Privacy:
    """The privacy steps a run's ``Settings`` ask for."""
    salt = settings.identifier_salt.get_secret_value() if settings.identifier_salt else None
    return Privacy(
        hasher=hasher_for(salt, settings.identifier_key_file),
        names=NameRedactor(settings.spacy_models) if settings.redact_names else None,
        languages=settings.languages,
        default_language=settings.default_language,
    )

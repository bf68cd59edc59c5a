"""Whether two answers take the same position: read each answer's side and claim, then compare them.

An answer is read, by rules and without a model, into a :class:`Reading`:

- its **side** on a yes/no question: "yes", "no" or "undecided" when it says so in its first words ("No, ...",
  "Probably not.", "Absolutely.", "In the long run, yes.", "It depends.") after a filler ("I think", "The answer
  is") and hedges ("probably", "definitely") are dropped, or later in the form "the answer is no". A hedge never
  reverses a side: "probably yes" is a yes. A qualification may: "Yes, but you should keep the theatre open" is a
  no to "Should the theatre be closed?".
- its **claim**: the rest of its first sentence up to a clause that gives a reason, a purpose, a condition or a
  contrast ("because ...", "to reduce ...", "but ..."), as a set of content words and a **polarity**. The polarity
  counts negations ("not", "never"; "not only" and "no doubt" negate nothing) together with words that reverse a
  claim: "ban" reads as "not allow", "closed" as "not open", "wrong" as "not good" (:mod:`agora.aggregation.lexicon`).
  So "cities should not ban cars" and "cities should allow cars" are one claim, and "No, it should not be free"
  says no once, not twice.
- whether the claim is a **verdict**: it has a verb such as "should" or "is", it is not a remark about the debate
  ("The debate is about ...", "You're one voice in a debate"), and it is not an argument about a course of action
  ("Banning social media could hinder ..."; "Lying to a friend is wrong" judges, and is a verdict).

Two answers take the same position (:func:`same_position`) when

1. their normalised texts are equal; or
2. both take a side and the sides are equal. Besides a stated side, a verdict on a yes/no question takes one: yes
   when its polarity is the question's, no when it is reversed, if it restates the question (the question's word
   that a polarity hangs on, such as "free" or "ban", and enough of its other words). A verdict with no content
   words of its own ("It should not.") takes the side its polarity gives; or
3. neither takes a side (or, without a yes/no question, one states a side and goes on to a claim the other makes),
   and their claims say the same: equal polarity, and a Jaccard similarity of their words of at least
   ``threshold`` or nearly all of the smaller claim's words among the other's. The question's own words are left
   out, so that two proposals on an open question ("build a park on the yard", "build housing on the yard")
   differ by what they propose. Remarks about the debate compare their whole first sentences, reasons included
   ("... unfair to those who care about growth" is not "... unfair to those who care about rigour").

With a yes/no question given, an answer that takes a side and one that does not are different positions. Reasons
never separate positions: "Yes, because it is cheaper" and "Yes, it cuts pollution" are one position.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from agora.aggregation import lexicon

DEFAULT_THRESHOLD = 0.7
#: share of the smaller claim's words found in the other's for two claims to be the same (a claim with a detail
#: added still matches the bare claim)
CONTAINED = 0.8
#: share of a yes/no question's content words a verdict must restate to be read as an answer to it, when the
#: question has no word that a polarity hangs on
RESTATES = 0.75

_SENTENCE_END = re.compile(r"(?<=[a-z0-9%)])[.!?;](?:\s|$)")
_PUNCT = re.compile(r"[^\w\s-]")
_MARKER_END = re.compile(r"^\s*(?:[,.;:!\-–—]+|$)")
_PRONOUN = re.compile(r"^\s*(?:it|they|we|that|this|i|you|he|she|there)\b")
_LEADING_CLAUSE = re.compile(
    r"^\W*(?:to|in\s+order\s+to|although|though|while|whereas|even\s+if|if|since|because|as|given|in\s+a\s+world)\b"
    r"[^,]*,\s*"
)
_CONTRAST = re.compile(r"^\W*(?:but|however|although|though|yet)\b\W*")
_GERUND_SUBJECT = re.compile(r"^\W*(?:by\s+)?([a-z]{2,}ing)\b")
_SIDE_WORDS = lexicon.YES_WORDS | lexicon.NO_WORDS | lexicon.UNDECIDED


@dataclass(frozen=True)
class Reading:
    """What :func:`same_position` compares, read once per answer (merging compares many pairs)."""

    normalised: str
    side: str | None  # "yes", "no", "undecided"; None when the answer states no side
    words: frozenset[str]  # the claim's content words, synonyms and opposites read as one word
    negated: bool  # the claim's polarity: an odd number of negations and reversing words
    verdict: bool  # the claim has a verb such as "should" or "is" and is not a remark about the debate
    meta: bool  # a remark about the debate ("The debate is about ...")
    sentence: frozenset[str]  # the content words of the whole first sentence
    turn: tuple[frozenset[str], bool] | None = None  # a verdict after "Yes, but ...": its words and polarity


@dataclass(frozen=True)
class Question:
    """The debate's question, read as a claim ("Should cities ban cars?": the claim "city not-allow car").

    ``polar`` holds its words that a polarity hangs on ("allow" for "ban"); ``yes_no`` is False for an open
    question ("What should ...?"), whose words are still left out when proposals are compared."""

    words: frozenset[str]
    negated: bool
    polar: frozenset[str]
    yes_no: bool


def _spell_out(text: str) -> str:
    text = text.lower().replace("*", " ").replace('"', " ").replace("“", " ").replace("”", " ")
    for pattern, replacement in lexicon.CONTRACTIONS:
        text = pattern.sub(replacement, text)
    return re.sub(r"\s+", " ", text).strip()


def normalise(answer: str) -> str:
    """Lower case, contractions spelled out, punctuation and extra spaces removed, a leading filler dropped."""
    text = _PUNCT.sub(" ", _spell_out(answer))
    text = re.sub(r"\s+", " ", text).strip()
    return _drop_fillers(text)


def _drop_fillers(text: str) -> str:
    while True:
        stripped = lexicon.FILLER.sub("", text, count=1).strip()
        label = lexicon.LABEL.match(stripped)
        if label and _PUNCT.sub(" ", label.group(0)).strip() not in _SIDE_WORDS:
            stripped = stripped[label.end() :]
        if stripped == text:
            return text
        text = stripped


def _read_side(text: str) -> tuple[str | None, str]:
    """The side an answer states in its first words, and the rest of the answer after them."""
    words = _drop_fillers(text.lstrip(" -–—'")).split()
    while len(words) > 1 and words[0].strip(",.;:!") in lexicon.HEDGES:
        words = words[1:]
    text = " ".join(words)
    bare = _PUNCT.sub(" ", text).split()
    if len(bare) == 1 and bare[0] in lexicon.YES_ALONE:
        return "yes", ""  # "Absolutely."
    after_phrase = lexicon.SIDE_AFTER_PHRASE.match(text)
    if after_phrase:
        return after_phrase.group(1), text[after_phrase.end() :]
    for size in (4, 3, 2, 1):  # the longest phrase that says a side and ends there or at a punctuation mark
        if len(bare) < size:
            continue
        phrase = " ".join(bare[:size])
        match = re.match(r"^\W*" + r"\W+".join(re.escape(w) for w in bare[:size]), text)
        if not match:
            continue
        rest = text[match.end() :]
        ends = _MARKER_END.match(rest) is not None
        if phrase in lexicon.UNDECIDED and (ends or " " in phrase or phrase == "depends"):
            return "undecided", ""
        if phrase in lexicon.YES_WORDS and (ends or (phrase == "yes" and _PRONOUN.match(rest))):
            return "yes", _MARKER_END.sub("", rest, count=1)
        if phrase in lexicon.NO_WORDS and (ends or (phrase == "no" and _PRONOUN.match(rest))):
            return "no", _MARKER_END.sub("", rest, count=1)
    return None, text


def _first_sentence(text: str) -> str:
    return _SENTENCE_END.split(lexicon.FALSE_NEGATIONS.sub(" ", text), maxsplit=1)[0]


def _claim(sentence: str) -> str:
    """A first sentence without a leading clause ("To reduce traffic, ...") and from its first reason, purpose,
    condition or contrast on."""
    sentence = _LEADING_CLAUSE.sub("", sentence, count=1)
    cut = len(sentence)
    for pattern in (lexicon.REASON, lexicon.PURPOSE):
        match = pattern.search(" " + sentence)
        if match and match.start() > 0:
            cut = min(cut, match.start() - 1)
    return sentence[:cut]


def _words(text: str) -> tuple[frozenset[str], bool, bool]:
    """Content words (synonyms and opposites read as one), whether negated, whether it has a verdict verb."""
    negations = 0
    verdict = False
    words = set()
    for token in _PUNCT.sub(" ", text).replace("-", " ").split():
        if token in lexicon.NEGATIONS:
            negations += 1
            continue
        verdict = verdict or token in lexicon.VERDICT_VERBS
        token = _known(token)
        token = lexicon.SYNONYMS.get(token, token)
        if token in lexicon.OPPOSITES:
            token, reverses = lexicon.OPPOSITES[token]
            negations += reverses
        if token and token not in lexicon.STOP and (len(token) >= 3 or token.isdigit()):
            words.add(_singular(token))
    return frozenset(words), negations % 2 == 1, verdict


def _known(token: str) -> str:
    """The token, or its singular when only that is in the word lists ("stays" is read as "stay")."""
    if token in lexicon.SYNONYMS or token in lexicon.OPPOSITES:
        return token
    single = _singular(token)
    return single if single in lexicon.SYNONYMS or single in lexicon.OPPOSITES else token


def _singular(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


@lru_cache(maxsize=4096)
def read(answer: str) -> Reading:
    """Read an answer's side and claim (see the module doc)."""
    text = _spell_out(answer)
    side, rest = _read_side(text)
    sentence = _first_sentence(rest)
    if side is None:
        stated = lexicon.ANSWER_IS.search(sentence)
        side = stated.group(1) if stated else None
    claim = _claim(sentence)
    words, negated, verdict = _words(claim)
    meta = lexicon.META.match(sentence) is not None
    whole, _, _ = _words(sentence)
    verdict = verdict and not meta and not _argument(claim)
    turn = None
    contrast = _CONTRAST.match(rest) if side in ("yes", "no") else None
    if contrast:
        turned = _claim(_first_sentence(rest[contrast.end() :]))
        turn_words, turn_negated, turn_verdict = _words(turned)
        if turn_verdict and not _argument(turned):
            turn = (turn_words, turn_negated)
    return Reading(normalise(answer), side, words, negated, verdict, meta, whole, turn)


def _argument(claim: str) -> bool:
    """Whether a claim argues about a course of action rather than judging it: its subject is the action ("Banning
    social media could hinder ...", "Lowering the voting age would require ...") and what it says of it has no
    word that judges or reverses ("... is wrong" judges, so "Lying to a friend is wrong" is a verdict)."""
    match = _GERUND_SUBJECT.match(claim)
    if not match or match.group(1) in lexicon.NOT_GERUNDS:
        return False
    tokens = _PUNCT.sub(" ", claim).split()
    verb = next((i for i, t in enumerate(tokens) if t in lexicon.VERDICT_VERBS), None)
    if verb is None:
        return False
    return not any(lexicon.OPPOSITES.get(lexicon.SYNONYMS.get(t, t)) for t in tokens[verb + 1 :])


@lru_cache(maxsize=256)
def read_question(question: str | None) -> Question | None:
    """The debate's question read as a claim (None without a question)."""
    lines = (question or "").strip().splitlines()
    if not lines:
        return None
    text = _spell_out(lines[0])
    words, negated, _ = _words(text.rstrip("?"))
    polar = frozenset(w for w in words if w in lexicon.OPPOSITES and lexicon.OPPOSITES[w][0] == w)
    return Question(words, negated, polar, lexicon.YES_NO_QUESTION.match(text) is not None)


def restates(words: frozenset[str], question: Question) -> bool:
    """Whether a verdict with these words restates a yes/no question: it has the question's polar words ("allow"
    for "ban") and two of its words, or, for a question without polar words, most of its words (:data:`RESTATES`)."""
    shared = len(words & question.words)
    if question.polar:
        return question.polar <= words and shared >= min(2, len(question.words))
    return shared >= RESTATES * len(question.words)


def side_of(reading: Reading, question: Question | None) -> str | None:
    """The side an answer takes: the side it states, else the side its claim takes as a verdict (module doc, 2)."""
    asked = question is not None and question.yes_no
    if reading.side is not None:
        if reading.turn is not None and asked and restates(reading.turn[0], question):
            return "no" if reading.turn[1] != question.negated else "yes"  # "Yes, but keep it open."
        return reading.side
    if not reading.verdict:
        return None
    if not reading.words:
        return "no" if reading.negated else "yes"  # "It should not."
    if asked and restates(reading.words, question):
        return "no" if reading.negated != question.negated else "yes"
    return None


def _similar(a: frozenset[str], b: frozenset[str], threshold: float) -> bool:
    if not a or not b:
        return False
    shared = len(a & b)
    if shared / len(a | b) >= threshold:
        return True
    smaller = min(len(a), len(b))
    return smaller >= 2 and shared / smaller >= CONTAINED


def same_claim(a: Reading, b: Reading, threshold: float, question: Question | None = None) -> bool:
    """Whether two answers that take no side say the same (module doc, 3)."""
    if a.negated != b.negated:
        return False
    asked = question.words if question is not None else frozenset()
    if a.meta or b.meta:
        return _similar(a.sentence - asked, b.sentence - asked, threshold)
    new_a, new_b = a.words - asked, b.words - asked
    if not new_a and not new_b:
        return bool(a.words) and bool(b.words)  # both restate the question and say nothing more
    return _similar(new_a, new_b, threshold)


def same_reading(a: Reading, b: Reading, threshold: float, question: Question | None = None) -> bool:
    """:func:`same_position` on two readings (see the module doc)."""
    if a.normalised == b.normalised:
        return True
    side_a, side_b = side_of(a, question), side_of(b, question)
    if side_a is not None and side_b is not None:
        return side_a == side_b
    if (side_a is not None or side_b is not None) and question is not None and question.yes_no:
        return False
    return same_claim(a, b, threshold, question)


def same_position(
    a: str, b: str, *, question: str | None = None, threshold: float = DEFAULT_THRESHOLD
) -> bool:
    """Whether answers ``a`` and ``b`` take the same position (on ``question``, when given).

    "No, public transport should not be free." and "Public transport should not be free." do; "Cities should ban
    cars." and "Cities should not ban cars." do not; "Probably yes" and "Yes" do. See the module doc for the rules.
    ``threshold`` is the Jaccard similarity two claims that take no side need (the protocol's ``merge_threshold``).
    """
    return same_reading(read(a), read(b), threshold, read_question(question))

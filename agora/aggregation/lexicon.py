"""The word lists that reading an answer's position relies on (:mod:`agora.aggregation.claims`).

Kept apart from the rules so that a word can be added without touching them. Every list is general English, not
the vocabulary of any one debate question: the words that say yes or no, the hedges that soften an answer without
reversing it, the negations, and the pairs of opposite words ("ban" and "allow") that let "cities should not ban
cars" and "cars should be allowed in cities" be read as the same claim.
"""

from __future__ import annotations

import re

#: phrases at the start of an answer that carry no position ("I think", "In my opinion", "The answer is")
FILLER = re.compile(
    r"^(?:answer\s*:|final\s+answer\s*:|(?:so|well|overall|ultimately|honestly|personally|in\s+short|in\s+summary|"
    r"in\s+conclusion|to\s+sum\s+up|to\s+answer\s+(?:the|this|your)\s+question|after\s+(?:much\s+)?consideration|"
    r"all\s+things\s+considered|on\s+reflection)\b\s*[,:]?|"
    r"i\s+(?:think|believe|feel|would\s+say|would\s+argue|maintain|still\s+think|still\s+believe)(?:\s+that)?\b|"
    r"in\s+my\s+(?:opinion|view|judgement|judgment)\b|my\s+(?:answer|position|view|stance)\s+(?:is|remains)(?:\s+that)?\b|"
    r"(?:the\s+)?(?:short\s+|final\s+)?answer\s+(?:to\s+(?:the|this)\s+question\s+)?is(?:\s+that)?\b|"
    r"i\s+(?:would\s+)?(?:vote|argue|answer)\b)\s*[,:]?\s*"
)

#: words that soften an answer without reversing it ("probably yes" is a yes)
HEDGES = frozenset((
    "probably", "likely", "perhaps", "possibly", "arguably", "generally", "mostly", "largely", "presumably",
    "ideally", "basically", "essentially", "clearly", "obviously", "surely", "truly", "really", "strongly",
    "firmly", "definitely", "absolutely", "certainly", "undoubtedly"
))  # fmt: skip

#: a whole answer (or its first words) that says yes / no, after hedges are dropped
YES_WORDS = frozenset(
    ["yes", "yeah", "yep", "yes indeed", "indeed", "of course", "sure", "agreed", "i agree", "agree"]
)
NO_WORDS = frozenset(
    ["no", "nope", "not", "not at all", "not really", "never", "i disagree", "disagree", "by no means"]
)
#: a hedge alone answers yes ("Absolutely.", "Probably.")
YES_ALONE = HEDGES - {"perhaps", "possibly", "really"}
#: answers that take neither side
UNDECIDED = frozenset((
    "maybe", "perhaps", "possibly", "it depends", "depends", "that depends", "partly", "partially",
    "sometimes", "yes and no", "not sure", "unsure", "i am not sure", "i do not know", "hard to say",
    "it is hard to say", "undecided", "unclear", "it is complicated", "not necessarily"
))  # fmt: skip

#: words that negate what follows
NEGATIONS = frozenset(["not", "no", "never", "none", "nothing", "nobody", "neither", "nor"])
#: phrases with a negation word that negate nothing ("not only ... but also", "no doubt")
FALSE_NEGATIONS = re.compile(
    r"\b(?:not\s+only|not\s+just|not\s+merely|no\s+doubt|no\s+matter|nothing\s+but|no\s+less\s+than|"
    r"no\s+question|none\s+the\s+less|nonetheless|never\s+the\s+less|nevertheless)\b"
)

#: contracted negations, spelled out before anything else is read
CONTRACTIONS = (
    (re.compile(r"\bwon['’]t\b"), "will not"),
    (re.compile(r"\bcan['’]t\b"), "can not"),
    (re.compile(r"\bshan['’]t\b"), "shall not"),
    (re.compile(r"\bcannot\b"), "can not"),
    (re.compile(r"n['’]t\b"), " not"),
    (re.compile(r"['’](?:s|re|ve|ll|d|m)\b"), ""),
)

#: word -> (the word it is read as, whether it reverses the claim). "ban" is read as "not allow", so that
#: "cities should not ban cars" and "cities should allow cars" are the same claim; synonyms are read as one word.
_OPPOSITES: dict[str, tuple[str, ...]] = {
    # allowing and forbidding
    "allow": ("allow", "allowed", "allowing", "allows", "permit", "permitted", "permits", "permitting", "legalise",
              "legalised", "legalize", "legalized", "legal", "lawful", "tolerate", "tolerated"),
    "-allow": ("ban", "banned", "banning", "bans", "prohibit", "prohibited", "prohibiting", "prohibits", "forbid",
               "forbidden", "forbids", "outlaw", "outlawed", "disallow", "disallowed", "illegal", "unlawful",
               "criminalise", "criminalised", "criminalize", "criminalized", "restrict", "restricted",
               "restricting"),
    # keeping and ending
    "keep": ("keep", "kept", "keeping", "retain", "retained", "maintain", "maintained", "preserve", "preserved",
             "continue", "continued", "remain", "stay"),
    "-keep": ("abolish", "abolished", "abolishing", "scrap", "scrapped", "eliminate", "eliminated", "end", "ended",
              "remove", "removed", "stop", "stopped", "discontinue", "discontinued", "replace", "replaced"),
    # opening and closing
    "open": ("open", "opened", "opening", "reopen", "reopened"),
    "-open": ("close", "closed", "closing", "shut", "shutdown"),
    # judging
    "good": ("good", "acceptable", "okay", "ok", "fine", "right", "justified", "justifiable", "ethical", "moral",
             "permissible", "beneficial", "wise", "reasonable", "fair", "appropriate", "positive", "worth",
             "worthwhile", "kind", "caring", "compassionate", "responsible", "honourable", "honorable"),
    "-good": ("bad", "unacceptable", "wrong", "unjustified", "unjustifiable", "unethical", "immoral",
              "impermissible", "harmful", "unwise", "unreasonable", "unfair", "inappropriate", "negative",
              "betrayal", "deception", "deceptive", "deceitful", "dishonest", "dishonesty", "offence", "offense",
              "unprofessional", "irresponsible", "selfish", "cruel", "dangerous", "damaging", "oppression",
              "oppressive", "disrespectful", "manipulative", "manipulation", "abuse", "exploitation"),
    # agreeing
    "support": ("support", "supported", "favour", "favor", "agree", "accept", "accepted", "endorse", "welcome"),
    "-support": ("oppose", "opposed", "against", "reject", "rejected", "disagree", "refuse", "refused"),
    # obliging
    "compulsory": ("compulsory", "mandatory", "required", "obligatory", "enforced"),
    "-compulsory": ("optional", "voluntary"),
    # price
    "free": ("free", "costless"),
}  # fmt: skip

OPPOSITES: dict[str, tuple[str, bool]] = {
    word: (base.lstrip("-"), base.startswith("-")) for base, words in _OPPOSITES.items() for word in words
}

#: words read as one (no reversal): plural and verb forms the plural rule misses, and common synonyms
SYNONYMS: dict[str, str] = {
    "children": "child",
    "kids": "child",
    "kid": "child",
    "youngsters": "child",
    "minors": "child",
    "teenagers": "teen",
    "teens": "teen",
    "people": "person",
    "automobiles": "car",
    "automobile": "car",
    "vehicles": "car",
    "vehicle": "car",
    "lying": "lie",
    "lied": "lie",
    "lies": "lie",
    "centers": "centre",
    "center": "centre",
    "universities": "university",
    "college": "university",
    "colleges": "university",
    "transit": "transport",
    "transportation": "transport",
    # more and less are contraries, not a claim and its denial ("not raised" is not "lowered"): one word each
    "raise": "increase",
    "raised": "increase",
    "raising": "increase",
    "increased": "increase",
    "increasing": "increase",
    "higher": "increase",
    "boost": "increase",
    "boosted": "increase",
    "expand": "increase",
    "expanded": "increase",
    "lower": "reduce",
    "lowered": "reduce",
    "lowering": "reduce",
    "reduced": "reduce",
    "reducing": "reduce",
    "decrease": "reduce",
    "decreased": "reduce",
    "cut": "reduce",
    "cuts": "reduce",
    "cutting": "reduce",
    "less": "reduce",
    "fewer": "reduce",
    "should": "",
    "must": "",
    "ought": "",
    "need": "",
    "needs": "",
}

#: the verbs that make an answer a verdict on a yes/no question ("X should not be Y", "it is wrong", "the park
#: stays open"): modal and auxiliary verbs, and the verbs that link a subject to what is said of it
VERDICT_VERBS = frozenset((
    "should", "must", "ought", "need", "needs", "is", "are", "be", "was", "were", "can", "could", "will",
    "would", "may", "might", "shall", "do", "does", "has", "have", "remain", "remains", "stay", "stays",
    "become", "becomes", "seem", "seems"
))  # fmt: skip

#: words that open a clause giving a reason, a condition or a consequence: the claim ends before them
REASON = re.compile(
    r"\s(?:because|since|as\s+(?:it|they|this|that|these|those|we|there|doing)|so\s+that|so\s+as|in\s+order|"
    r"due\s+to|given\s+that|owing\s+to|which|while|whereas|although|though|but|however|yet|unless|if|"
    r"provided|as\s+long\s+as|thus|thereby|otherwise|instead)\b"
)

#: a reason given as a purpose ("build a park to give children space"): the claim ends before it
PURPOSE = re.compile(
    r"\sto\s+(?:ensure|reduce|improve|protect|promote|preserve|support|help|make|provide|create|prevent|encourage|"
    r"capitali[sz]e|prioriti[sz]e|address|minimi[sz]e|maximi[sz]e|foster|give|save|avoid|achieve|benefit|boost|"
    r"increase|enable|allow|keep|meet|serve|strengthen|tackle|combat|fight|curb|limit|attract|safeguard)\b"
)

#: the start of a remark about the debate rather than an answer to its question ("The debate is about ...")
META = re.compile(
    r"^\W*(?:the|this|that|a|in\s+a|in\s+this)\s+(?:debate|discussion|question|conversation|argument)\b|"
    r"^\W*(?:the\s+)?answer\s+to\s+(?:this|the)\s+question\s+(?:requires|depends|is\s+complex)\b|"
    r"^\W*(?:you\s+are|you\s+re|i\s+am\s+glad|i\s+m\s+glad|i\s+agree\s+with\s+the\s+other|i\s+am\s+not\s+sure\s+i)\b"
)

#: a side stated later in the first sentence: "..., and the answer is no", "the answer is a resounding yes"
ANSWER_IS = re.compile(
    r"\b(?:the|my)\s+answer\s+(?:is|remains)\s*:?\s*(?:a\s+|an\s+)?(?:(?:clear|resounding|firm|simple|"
    r"definite|emphatic|qualified|cautious)\s+)?(yes|no)\b"
)

#: a label before the answer ("Sustainability: No, no, no"): one or two words and a colon, or an option letter
#: ("A) Yes.")
LABEL = re.compile(r"^\W*(?:[a-z]+(?:\s+[a-z]+)?\s*:|\(?[a-e]\))\s+")

#: a short opening phrase before a side ("In the long run, yes.", "On balance, no")
SIDE_AFTER_PHRASE = re.compile(r"^\W*(?:[a-z]+\s+){1,4}?[a-z]+\s*,\s*(yes|no)\s*(?:[,.;:!]|$)")

#: words too common to tell two claims apart
STOP = frozenset((
    "the", "and", "for", "are", "but", "you", "all", "any", "can", "had", "her", "was", "one", "our", "out",
    "has", "him", "his", "how", "its", "may", "new", "now", "see", "two", "who", "did", "get", "let", "say",
    "she", "too", "use", "that", "with", "this", "from", "they", "will", "would", "should", "could", "have",
    "been", "were", "what", "when", "where", "which", "there", "their", "them", "than", "then", "also",
    "into", "more", "most", "some", "such", "only", "very", "just", "because", "about", "your", "it", "is",
    "be", "a", "an", "of", "to", "in", "on", "at", "by", "as", "or", "we", "us", "i", "me", "my", "do",
    "does", "so", "if", "must", "ought", "need", "needs", "shall", "might", "way", "whether"
))  # fmt: skip

#: words in "-ing" that are no action a claim could be about ("Nothing should ...", "During ...")
NOT_GERUNDS = frozenset(["nothing", "something", "anything", "everything", "during", "morning", "evening"])

#: yes/no questions open with an auxiliary verb; others ("What should ...", "How ...") are open questions
YES_NO_QUESTION = re.compile(
    r"^\W*(?:should|is|are|do|does|did|can|could|will|would|must|may|might|shall|has|have|had|was|were|ought)\b"
)

"""Whether an error message says what to do next (`next_step`): an instruction (a verb such as "give", "use", "pass",
"choose" or "re-export" that starts the message or a clause after ":", ";", ",", "(", "?", "or", "then") or the
values allowed ("must be one of ...", "must lie in ...", "must be at least ...", "... like 0,3,5-7"). Read by
tests/test_error_messages.py (every raise site's own words) and the bad-input corpus (every real error line)."""
import re

VERBS = ("give use pass choose pick set extract run rerun check convert leave add remove delete rename export save put "
         "wait lower reduce select draw upload start resume ask try fix encode crop keep make fit train embed "
         "cluster rank copy move sign open free split list replace correct shorten restore include omit say name "
         "install write read load drop clear download type enter label explore index preprocess resize widen").split()
INSTRUCTION = re.compile(rf"(?:(?:^|[:;,(?])\s*|\b(?:or|then|instead|so)\s+)(?:re-\w+|{'|'.join(VERBS)})\b",
                         re.IGNORECASE)
ALLOWED = re.compile(r"\b(?:must|may only|can only)\s+(?:be|lie|hold|have|satisfy|name)\b[^;:]*?"
                     r"(?:\ban integer\b|\ba (?:whole |finite )?number\b|\bone of\b|\blike\b|\bat (?:least|most)\b|"
                     r"\bbetween\b|\bfrom\b.*\bto\b|\bwithin\b|\bin \[|\d\s*\.\.|[<>]=?|\b(?:positive|above|below)\b)",
                     re.IGNORECASE)
PASSED_ON = "{a user error's own words}"  # what a user error passed on stands for: it carries its own step


def next_step(text: str) -> bool:
    return PASSED_ON in text or bool(INSTRUCTION.search(text) or ALLOWED.search(text))

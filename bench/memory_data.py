"""Conversational-memory retrieval data: a seeded LoCoMo-style generator and a LoCoMo JSON loader.

The generator writes long multi-session dialogues between two people (20 sessions over months),
plants facts in single turns (the *evidence*), and asks questions whose evidence turns are known:

- ``single-hop``: one evidence turn, worded differently from it;
- ``paraphrase``: one evidence turn, the question shares almost no content word with it;
- ``temporal``: when something happened (the turn's session date answers it) or what held
  before a later change;
- ``multi-hop``: two evidence turns (the same kind of fact for both speakers, or a fact and its
  later update).

To keep keyword overlap from being enough, every fact has *distractor* turns elsewhere in the
dialogue that reuse the question's words but do not hold the answer, and both speakers have a
fact of every kind, so the other speaker's turn competes too. Nothing is impossible: each
answer is stated in its evidence turn (or, for a date, by the turn's timestamp).

The memory file format of the CLI (one JSON object per line) is produced by :func:`memory_lines`:
``{"tenant", "agent_id", "session_id", "memory_id", "memory_type", "content", "occurred_at",
"metadata"}``; a question file by :func:`question_lines`: ``{"tenant", "question_id", "query",
"evidence": [memory ids], "category"}``.
"""

from __future__ import annotations

import json
import random
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class Turn:
    turn_id: str
    session_index: int
    speaker: str
    text: str
    occurred_at_ms: int


@dataclass(frozen=True, slots=True)
class Question:
    question_id: str
    text: str
    evidence: tuple[str, ...]
    category: str


@dataclass(frozen=True, slots=True)
class Conversation:
    conversation_id: str
    speakers: tuple[str, str]
    turns: tuple[Turn, ...]
    questions: tuple[Question, ...]


@dataclass(frozen=True, slots=True)
class FactKind:
    """One kind of fact: answer values, how a speaker states it, how it is asked, what looks alike."""

    key: str
    values: tuple[dict[str, str], ...]
    evidence: tuple[str, ...]
    single: str
    paraphrase: str
    temporal: str
    both: str
    distractors: tuple[str, ...]


KINDS: tuple[FactKind, ...] = (
    FactKind(
        "pet",
        ({"animal": "beagle", "name": "Biscuit"}, {"animal": "tabby kitten", "name": "Miso"},
         {"animal": "rescue greyhound", "name": "Comet"}, {"animal": "parrot", "name": "Kiwi"},
         {"animal": "corgi puppy", "name": "Waffles"}, {"animal": "ginger cat", "name": "Pumpkin"}),
        ("We finally brought a {animal} home from the shelter, the kids call her {name}.",
         "Meet {name}! A little {animal} who now sleeps at the foot of my bed."),
        "What is the name of {p}'s {animal}?",
        "Who is the new furry member of {p}'s household?",
        "When did {p} get the {animal}?",
        "What are the names of the pets {a} and {b} adopted?",
        ("My neighbour asked me to help pick a name for the pet rabbit she adopted.",
         "Pet insurance is a scam, the name of the game is hidden fees.",
         "The shelter near the mall lets you adopt a pet for a weekend before deciding."),
    ),
    FactKind(
        "job",
        ({"role": "data analyst", "org": "a hospital"}, {"role": "sous chef", "org": "a hotel restaurant"},
         {"role": "project manager", "org": "a solar panel startup"},
         {"role": "physiotherapist", "org": "a sports clinic"},
         {"role": "librarian", "org": "the city archive"}, {"role": "UX designer", "org": "a bank"}),
        ("I handed in my notice! Starting as a {role} at {org} on the first.",
         "Signed the contract today, I'm going to be a {role} at {org}."),
        "Where is {p} going to work as a {role}?",
        "How does {p} earn a living these days?",
        "When did {p} sign up to become a {role}?",
        "What new jobs did {a} and {b} each take?",
        ("My brother took a new job at the post office and already hates it.",
         "A job fair is on downtown next week if anyone is looking for something new.",
         "Do you think taking a job just for the money is ever worth it?"),
    ),
    FactKind(
        "trip",
        ({"place": "Lisbon", "doing": "eating custard tarts and riding old trams"},
         {"place": "the Scottish Highlands", "doing": "hiking in the rain"},
         {"place": "Kyoto", "doing": "visiting temples at dawn"},
         {"place": "Iceland", "doing": "chasing waterfalls"},
         {"place": "Crete", "doing": "snorkelling every morning"},
         {"place": "Montreal", "doing": "going to jazz bars"}),
        ("Just got back from {place}, we spent the whole week {doing}.",
         "{place} was magical, honestly I could get used to {doing}."),
        "What did {p} spend the week doing in {place}?",
        "Which destination did {p} fly off to for a break?",
        "When did {p} visit {place}?",
        "Where did {a} and {b} each travel on holiday?",
        ("Holiday traffic on the ring road was a nightmare, took us two hours to get anywhere.",
         "I'd love to go somewhere on holiday but my boss won't sign off on the leave.",
         "Did you see that travel show about a holiday on a cargo ship?"),
    ),
    FactKind(
        "hobby",
        ({"hobby": "pottery", "detail": "my hands are covered in clay"},
         {"hobby": "salsa", "detail": "my feet are killing me"},
         {"hobby": "rock climbing", "detail": "my forearms are burning"},
         {"hobby": "watercolour painting", "detail": "the kitchen table is full of brushes"},
         {"hobby": "violin", "detail": "the neighbours are being very patient"},
         {"hobby": "woodworking", "detail": "there's sawdust all over the garage"}),
        ("I signed up for {hobby} lessons on Tuesday evenings, {detail}.",
         "Week three of {hobby} and {detail}, but I love it."),
        "Which evening are {p}'s {hobby} lessons?",
        "How does {p} spend Tuesday nights lately?",
        "When did {p} start {hobby}?",
        "What hobbies did {a} and {b} each take up?",
        ("There's a new hobby shop by the station that sells model trains.",
         "My therapist says I should start a hobby but I never have the time.",
         "Lessons for kids are so expensive, my niece's swimming costs a fortune."),
    ),
    FactKind(
        "book",
        ({"title": "The Left Hand of Darkness"}, {"title": "Pachinko"}, {"title": "Project Hail Mary"},
         {"title": "Circe"}, {"title": "The Remains of the Day"}, {"title": "Piranesi"}),
        ("I couldn't put down {title} this week, finished it in two nights.",
         "Stayed up until 2am finishing {title}, what an ending."),
        "Which book did {p} finish in two nights?",
        "What novel kept {p} awake late into the night?",
        "When did {p} read {title}?",
        "Which books did {a} and {b} each read?",
        ("I read recently that coffee is actually good for you, who knows anymore.",
         "The book club picked a novel I can't stand, I might skip this month.",
         "Which reminds me, I still owe the library a book from last year."),
    ),
    FactKind(
        "injury",
        ({"how": "playing five-a-side football", "part": "ankle"},
         {"how": "falling off my bike", "part": "wrist"},
         {"how": "slipping on the icy steps", "part": "knee"},
         {"how": "lifting a sofa", "part": "back"},
         {"how": "skiing into a fence", "part": "shoulder"},
         {"how": "tripping over the dog", "part": "elbow"}),
        ("I hurt my {part} {how}, the doctor says two weeks of rest.",
         "Ugh, my {part} is all swollen after {how}."),
        "How did {p} hurt their {part}?",
        "What accident left {p} needing rest?",
        "When did {p} hurt their {part}?",
        "How did {a} and {b} each get injured?",
        ("The injury list for the team this season is ridiculous.",
         "It hurt my feelings a bit when nobody came to the party.",
         "My dentist says rest your jaw, easier said than done."),
    ),
    FactKind(
        "city",
        ({"city": "Rotterdam"}, {"city": "Edinburgh"}, {"city": "Portland"},
         {"city": "Melbourne"}, {"city": "Valencia"}, {"city": "Leipzig"}),
        ("We signed the lease on a flat in {city}, boxes everywhere.",
         "First night in our new place in {city}, the street is so quiet."),
        "Which city did {p} sign a lease in?",
        "Where did {p} relocate with the family?",
        "When did {p} move to {city}?",
        "Which cities did {a} and {b} each move to?",
        ("The city council wants to move the bus depot, everyone is furious.",
         "Moving is the worst, I helped my cousin carry a piano up four floors.",
         "Every city has that one street where you can't find parking."),
    ),
    FactKind(
        "purchase",
        ({"item": "an espresso machine", "why": "no more queueing at the cafe"},
         {"item": "a second-hand kayak", "why": "the river is right behind us"},
         {"item": "a telescope", "why": "Saturn's rings were visible last night"},
         {"item": "a sewing machine", "why": "I want to make my own clothes"},
         {"item": "an electric bike", "why": "the hill to work was killing me"},
         {"item": "a record player", "why": "dad gave me his old vinyl"}),
        ("I splurged and bought {item}, {why}.",
         "Treated myself to {item} because {why}."),
        "Why did {p} buy {item}?",
        "What big treat did {p} get for themselves?",
        "When did {p} buy {item}?",
        "What did {a} and {b} each buy?",
        ("Prices in the supermarket recently are insane, I bought three things for twenty quid.",
         "Buy now pay later apps should be banned honestly.",
         "Expensive gadgets never get used in our house, they just gather dust."),
    ),
    FactKind(
        "diet",
        ({"diet": "vegetarian", "gave_up": "burgers"}, {"diet": "vegan", "gave_up": "cheese"},
         {"diet": "gluten-free", "gave_up": "fresh bread"}, {"diet": "pescatarian", "gave_up": "steak"},
         {"diet": "dairy-free", "gave_up": "ice cream"}, {"diet": "sugar-free", "gave_up": "chocolate"}),
        ("I've gone fully {diet}, saying goodbye to {gave_up} was hard.",
         "Month two of eating {diet} and I don't even miss {gave_up}."),
        "What did {p} give up after going {diet}?",
        "What foods is {p} avoiding these days?",
        "When did {p} go {diet}?",
        "What diets do {a} and {b} each follow?",
        ("Diet soda is apparently as bad as the regular stuff.",
         "The new cafe's menu follows whatever is trendy this week.",
         "My gran says any diet without pudding is not worth following."),
    ),
    FactKind(
        "volunteer",
        ({"where": "the food bank", "task": "sorting tins"},
         {"where": "the animal rescue", "task": "walking the older dogs"},
         {"where": "the community garden", "task": "planting leeks"},
         {"where": "the hospice", "task": "reading to patients"},
         {"where": "the youth club", "task": "coaching basketball"},
         {"where": "the beach clean-up crew", "task": "collecting plastic"}),
        ("Spent Saturday at {where} {task}, I'm going every week now.",
         "Back from my shift at {where}, {task} is oddly relaxing."),
        "What does {p} do at {where}?",
        "How does {p} give back to the community on weekends?",
        "When did {p} start volunteering at {where}?",
        "Where do {a} and {b} each volunteer?",
        ("They asked for volunteers at work to organise the party, nobody raised a hand.",
         "Saturday mornings are for sleeping in, no exceptions.",
         "Our community centre keeps asking for donations."),
    ),
    FactKind(
        "family",
        ({"rel": "sister", "kid": "Theo"}, {"rel": "brother", "kid": "Ada"}, {"rel": "cousin", "kid": "Leo"},
         {"rel": "best friend", "kid": "Nora"}, {"rel": "sister-in-law", "kid": "Felix"},
         {"rel": "brother", "kid": "Iris"}),
        ("My {rel} had the baby last night, little {kid}, eight pounds exactly!",
         "Holding {kid} for the first time, my {rel}'s newborn, made me cry."),
        "What is the name of the baby of {p}'s {rel}?",
        "Who was the newest arrival {p} welcomed?",
        "When was {p}'s {rel}'s baby born?",
        "What are the names of the babies born in the families of {a} and {b}?",
        ("Family dinners at Christmas are chaos, twelve people and one oven.",
         "The name on the package was wrong so the courier took it back.",
         "Baby shops are full of things nobody needs."),
    ),
    FactKind(
        "car",
        ({"car": "a used Volvo estate"}, {"car": "a little electric Fiat"}, {"car": "a camper van"},
         {"car": "a vintage Beetle"}, {"car": "a hybrid Toyota"}, {"car": "a pickup truck"}),
        ("The old hatchback finally died so we picked up {car}.",
         "Drove {car} home from the dealer today, it still smells new."),
        "What did {p} get after the old hatchback died?",
        "What does {p} drive now?",
        "When did {p} get {car}?",
        "What vehicles did {a} and {b} each get?",
        ("Car parks at the hospital charge by the minute now.",
         "My old car had a tape deck, I miss it.",
         "The dealer next to the gym keeps flashing adverts at me."),
    ),
)

OPENERS: tuple[str, ...] = (
    "Haha, honestly", "Oh wow,", "Ugh,", "So anyway,", "Funny you say that,", "Not much news here,",
    "Sorry for the slow reply,", "Okay so", "You won't believe it but", "Right,", "Hmm,", "Honestly,",
)

BODIES: tuple[str, ...] = (
    "work has been crazy this week with three deadlines landing on the same day",
    "the weather has been grey and drizzly since Monday and I keep forgetting my umbrella",
    "I made a huge pot of lentil soup on Sunday and we are still eating it",
    "my phone screen cracked again when it slipped out of my pocket on the stairs",
    "the train into town was cancelled twice so I ended up working from the kitchen",
    "my mum called for an hour to tell me about the neighbours' new fence",
    "I finally cleaned out the fridge and found a jar of olives from last spring",
    "I started a podcast about medieval history and it's weirdly addictive",
    "the garden is completely overgrown and the hedge is eating the path",
    "my laptop keeps freezing whenever I open more than five tabs",
    "it's been raining for three days straight and the basement smells damp",
    "I tried the new pizza place on the corner, the crust was decent but the sauce was sweet",
    "I'm thinking of repainting the bedroom a darker green, maybe sage",
    "the kids have a school play on Friday and I'm sewing a sheep costume",
    "I binge-watched an entire crime series on Sunday and regret nothing",
    "our boiler made a horrible banging noise so the plumber is coming Thursday",
    "I've been trying to drink more water but I just end up running to the loo",
    "we had friends over for board games and it got way too competitive",
    "the supermarket moved every aisle around and I got lost looking for rice",
    "I've been sleeping badly, the streetlight outside shines straight into the room",
    "a meeting that could have been an email ate my whole afternoon",
    "my sister keeps sending me videos of goats screaming, it's her new thing",
    "I walked past our old school yesterday and it looks so tiny now",
    "the washing machine flooded the bathroom floor again this morning",
    "I finally fixed the wobbly shelf in the hallway with a matchbook",
    "there was a power cut last night so we played cards by candlelight",
    "I joined a running group but mostly I just chat at the back",
    "the upstairs neighbours have been hoovering at midnight for some reason",
    "I burned the toast three mornings in a row, the toaster is possessed",
    "my manager announced a reorganisation and nobody knows what it means",
    "I found a great second-hand shop that sells old maps and postcards",
    "the local bakery gave me a free croissant because they remembered my name",
    "I watched a documentary about octopuses and now I feel guilty about calamari",
    "our internet was down all weekend so I actually read the newspaper",
    "my dad is learning to use video calls and it is a slow process",
    "the heating bill arrived and I nearly fell off my chair",
    "I spent an hour on hold with the bank just to change my address",
    "the farmers market had the most amazing strawberries this week",
    "I've been doing a jigsaw of the night sky and it's all just black pieces",
    "a pigeon got into the office and chaos followed",
)

CLOSERS: tuple[str, ...] = (
    "", "", "", " How are things with you?", " Anyway, what's new?", " Life, eh.", " Classic.",
    " Tell me something good.", " Hope your week is calmer!", " Let's grab coffee soon.",
)


def _filler(rng: random.Random) -> str:
    return f"{rng.choice(OPENERS)} {rng.choice(BODIES)}.{rng.choice(CLOSERS)}"


FIRST_NAMES: tuple[str, ...] = (
    "Caroline", "Melanie", "Jon", "Gina", "Priya", "Tomas", "Aisha", "Marco", "Yuki", "Daniel",
    "Sofia", "Omar", "Hannah", "Lucas", "Mei", "Andre", "Zara", "Felix", "Ingrid", "Kwame",
)


def _fill(template: str, **slots: str) -> str:
    return template.format(**slots)


def _plan_facts(rng: random.Random, speakers: tuple[str, str], n_sessions: int) -> tuple[
        list[tuple[int, str, str, str]], dict[str, dict[str, Any]]]:
    """Choose every fact: (session, speaker, text, tag) and, per tag, what the questions need."""
    planted: list[tuple[int, str, str, str]] = []
    facts: dict[str, dict[str, Any]] = {}
    for kind in KINDS:
        values = rng.sample(kind.values, 3)
        for i, speaker in enumerate(speakers):
            session = rng.randrange(n_sessions)
            tag = f"{kind.key}:{i}"
            text = _fill(rng.choice(kind.evidence), **values[i])
            planted.append((session, speaker, text, tag))
            facts[tag] = {"kind": kind, "speaker": speaker, "session": session, "values": values[i]}
        if kind.key == "city":  # a later move of the first speaker: a knowledge update
            first = facts["city:0"]["session"]
            later = rng.randrange(min(first + 1, n_sessions - 1), n_sessions)
            text = f"Plans changed again, we're leaving for {values[2]['city']} for good."
            planted.append((later, speakers[0], text, "city:0:update"))
            facts["city:0:update"] = {"kind": kind, "speaker": speakers[0], "session": later,
                                      "old": values[0]["city"]}
        for text in kind.distractors:
            planted.append((rng.randrange(n_sessions), rng.choice(speakers), text, f"distractor:{kind.key}"))
    return planted, facts


def _questions(conv_id: str, speakers: tuple[str, str], ids: dict[str, str],
               facts: dict[str, dict[str, Any]]) -> list[Question]:
    out: list[Question] = []

    def add(text: str, evidence: tuple[str, ...], category: str) -> None:
        out.append(Question(f"{conv_id}:q{len(out)}", text, evidence, category))

    for kind in KINDS:
        for i, speaker in enumerate(speakers):
            ev = (ids[f"{kind.key}:{i}"],)
            slots = facts[f"{kind.key}:{i}"]["values"]
            add(kind.single.format(p=speaker, **slots), ev, "single-hop")
            add(kind.paraphrase.format(p=speaker, **slots), ev, "paraphrase")
            add(kind.temporal.format(p=speaker, **slots), ev, "temporal")
        add(kind.both.format(a=speakers[0], b=speakers[1]),
            (ids[f"{kind.key}:0"], ids[f"{kind.key}:1"]), "multi-hop")
    old = facts["city:0:update"]["old"]
    add(f"Where does {speakers[0]} live now, after leaving {old}?", (ids["city:0:update"],), "temporal")
    add(f"Which places has {speakers[0]} called home, in order?",
        (ids["city:0"], ids["city:0:update"]), "multi-hop")
    return out


def build_conversation(index: int, seed: int = 7, n_sessions: int = 20,
                       turns_per_session: int = 18) -> Conversation:
    """One seeded dialogue with its questions; the same arguments give the same conversation."""
    rng = random.Random(f"{seed}:{index}")
    conv_id = f"conv-{index:03d}"
    a, b = rng.sample(FIRST_NAMES, 2)
    speakers = (a, b)
    planted, facts = _plan_facts(rng, speakers, n_sessions)
    sessions: list[list[tuple[str, str, str | None]]] = [[] for _ in range(n_sessions)]
    for session, who, said, label in planted:
        sessions[session].append((who, said, label))
    start = datetime(2023, 1, 9, tzinfo=UTC) + timedelta(days=rng.randrange(60))
    turns: list[Turn] = []
    ids: dict[str, str] = {}
    when = start
    for s, placed in enumerate(sessions):
        when = when + timedelta(days=rng.randrange(3, 15), hours=rng.randrange(8))
        n_fill = max(0, turns_per_session - len(placed))
        lines: list[tuple[str, str, str | None]] = [*placed]
        lines += [(speakers[k % 2], _filler(rng), None) for k in range(n_fill)]
        rng.shuffle(lines)
        for t, (speaker, text, tag) in enumerate(lines):
            turn_id = f"{conv_id}:D{s + 1}:{t + 1}"
            at = int((when + timedelta(minutes=2 * t)).timestamp() * 1000)
            turns.append(Turn(turn_id, s + 1, speaker, text, at))
            if tag is not None and not tag.startswith("distractor"):
                ids[tag] = turn_id
    return Conversation(conv_id, speakers, tuple(turns), tuple(_questions(conv_id, speakers, ids, facts)))


def build_dataset(conversations: int = 10, seed: int = 7, n_sessions: int = 20,
                  turns_per_session: int = 18) -> tuple[Conversation, ...]:
    return tuple(build_conversation(i, seed, n_sessions, turns_per_session) for i in range(conversations))


_LOCOMO_DATE_FORMATS = ("%I:%M %p on %d %B, %Y", "%I:%M %p on %d %b, %Y", "%Y-%m-%d %H:%M", "%Y-%m-%d")
_LOCOMO_CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}


def _parse_locomo_date(text: str) -> int:
    for fmt in _LOCOMO_DATE_FORMATS:
        try:
            return int(datetime.strptime(text.strip(), fmt).replace(tzinfo=UTC).timestamp() * 1000)
        except ValueError:
            continue
    raise ValueError(f"session date {text!r}: not in a LoCoMo date format such as '1:56 pm on 8 May, 2023'")


def load_locomo(path: Path) -> tuple[Conversation, ...]:
    """Read LoCoMo conversations in either published layout, in a stable order.

    - the standard single file (``locomo10.json``): a list of samples, each with ``sample_id``,
      ``conversation`` (``speaker_a``, ``speaker_b``, ``session_N``, ``session_N_date_time``) and ``qa``;
    - the per-conversation layout of the release zip (``data/multimodal_dialog/locomo10_v2/26.json``):
      one object per file holding ``speaker_a``, ``speaker_b``, the sessions and ``qa`` at the top level;
      the conversation id is ``conv-<file stem>`` (the standard file's ``sample_id``).

    ``path`` may be a standard file, one per-conversation file, a directory of them, or the zip.
    """
    out: list[Conversation] = []
    for name, sample in _locomo_samples(path):
        if "conversation" in sample:
            conv, qa = sample["conversation"], sample.get("qa", [])
            conv_id = str(sample.get("sample_id", name))
        elif "speaker_a" in sample:
            conv, qa, conv_id = sample, sample.get("qa", []), name
        else:
            raise ValueError(f"{path}: sample {name!r} has neither 'conversation' nor 'speaker_a': not LoCoMo")
        out.append(_locomo_conversation(conv_id, conv, qa))
    return tuple(out)


def _locomo_samples(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """(default conversation id, sample) pairs from a file, a directory or a zip of LoCoMo JSON."""
    if path.is_dir():
        files = sorted(path.glob("*.json"), key=_locomo_sort_key)
        if not files:
            raise ValueError(f"{path}: no *.json LoCoMo files in this directory")
        return [pair for f in files for pair in _locomo_parsed(f.stem, json.loads(f.read_text()))]
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as zf:
            members = sorted((m for m in zf.namelist() if m.endswith(".json")), key=lambda m: _locomo_sort_key(Path(m)))
            return [pair for m in members for pair in _locomo_parsed(Path(m).stem, json.loads(zf.read(m)))]
    return _locomo_parsed(path.stem, json.loads(path.read_text()))


def _locomo_parsed(stem: str, data: Any) -> list[tuple[str, dict[str, Any]]]:
    if isinstance(data, list):
        return [(f"locomo-{n}", sample) for n, sample in enumerate(data)]
    return [(f"conv-{stem}" if stem.isdigit() else stem, data)]


def _locomo_sort_key(p: Path) -> tuple[int, str]:
    return (int(p.stem), "") if p.stem.isdigit() else (1 << 30, p.stem)


def _locomo_conversation(conv_id: str, conv: dict[str, Any], qa: list[dict[str, Any]]) -> Conversation:
    turns: list[Turn] = []
    s = 1
    while f"session_{s}" in conv:
        at = _parse_locomo_date(conv.get(f"session_{s}_date_time", "2023-01-01"))
        for t, turn in enumerate(conv[f"session_{s}"]):
            text = turn.get("text", "")
            if turn.get("blip_caption"):
                text = f"{text} [shares a photo of {turn['blip_caption']}]"
            turns.append(Turn(f"{conv_id}:{turn['dia_id']}", s, turn["speaker"], text, at + 1000 * t))
        s += 1
    questions = tuple(
        Question(f"{conv_id}:q{q}", item["question"],
                 tuple(f"{conv_id}:{e.strip()}" for e in item.get("evidence", []) if e.strip()),
                 _LOCOMO_CATEGORIES.get(int(item.get("category", 0)), str(item.get("category"))))
        for q, item in enumerate(qa)
    )
    return Conversation(conv_id, (conv["speaker_a"], conv["speaker_b"]), tuple(turns),
                        tuple(q for q in questions if q.evidence))


def memory_lines(conversations: tuple[Conversation, ...]) -> Iterator[dict[str, Any]]:
    """The CLI's memory file: one JSON object per turn; each conversation is its own tenant."""
    for conv in conversations:
        for turn in conv.turns:
            yield {
                "tenant": conv.conversation_id,
                "agent_id": "assistant",
                "session_id": f"{conv.conversation_id}:S{turn.session_index}",
                "memory_id": turn.turn_id,
                "memory_type": "EPISODIC",
                "content": f"{turn.speaker}: {turn.text}",
                "occurred_at": turn.occurred_at_ms,
                "metadata": {"speaker": turn.speaker},
            }


def question_lines(conversations: tuple[Conversation, ...]) -> Iterator[dict[str, Any]]:
    for conv in conversations:
        for q in conv.questions:
            yield {"tenant": conv.conversation_id, "question_id": q.question_id, "query": q.text,
                   "evidence": list(q.evidence), "category": q.category}


def write_jsonl(rows: Iterator[dict[str, Any]], path: Path) -> int:
    n = 0
    with path.open("w") as fh:
        for row in rows:
            fh.write(json.dumps(row, sort_keys=True) + "\n")
            n += 1
    return n

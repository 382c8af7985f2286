"""A small labelled corpus written for the rag tests and benchmark.

36 short documents on distinct topics, each with metadata (category, year, tags), and one
question per document that paraphrases it rather than quoting it, with the id of the document
that answers it. Nothing here was tuned to the model: the questions are how a person would ask.
"""

from __future__ import annotations

from typing import Any, Final

__all__ = ["DOCUMENTS", "QUERIES", "documents_payload"]

# id -> (category, year, tags, text)
_DOCS: Final[dict[str, tuple[str, int, list[str], str]]] = {
    "photosynthesis": ("science", 2019, ["biology", "plants"],
        "Photosynthesis is how green plants make their food. Chlorophyll in the leaves absorbs "
        "sunlight, and the plant uses that energy to turn carbon dioxide and water into glucose. "
        "Oxygen is released as a by-product."),
    "black-holes": ("science", 2021, ["astronomy", "physics"],
        "A black hole is a region of space where gravity is so strong that not even light can "
        "escape. It forms when a massive star collapses. The boundary from which there is no "
        "return is called the event horizon."),
    "french-revolution": ("history", 2016, ["europe", "politics"],
        "The French Revolution began in 1789, when anger at royal debt, bread prices and noble "
        "privilege boiled over. Crowds stormed the Bastille prison in Paris, and within a few "
        "years the monarchy was abolished."),
    "sourdough": ("food", 2022, ["baking", "bread"],
        "Sourdough bread rises with a starter of wild yeast and lactic acid bacteria instead of "
        "commercial yeast. The starter must be fed flour and water regularly to stay active. "
        "Long fermentation gives the loaf its tangy flavour."),
    "tcp-congestion": ("technology", 2018, ["networking", "protocols"],
        "TCP congestion control keeps senders from overwhelming the network. A sender grows its "
        "congestion window while data is acknowledged and cuts it sharply when packets are "
        "lost, then probes for bandwidth again."),
    "volcanoes": ("science", 2017, ["geology", "earth"],
        "Volcanoes erupt when molten rock called magma rises through the crust. Magma rich in "
        "dissolved gas and silica is sticky, so pressure builds until it escapes violently and "
        "throws ash high into the sky."),
    "honeybees": ("nature", 2020, ["insects", "biology"],
        "Honeybees live in colonies with one queen, thousands of workers and a few drones. A "
        "forager that finds nectar performs a waggle dance in the hive, and the angle and length "
        "of the dance tell the others the direction and distance of the flowers."),
    "aqueducts": ("history", 2015, ["rome", "engineering"],
        "The Romans built aqueducts to carry fresh water from distant springs into their cities. "
        "The channels sloped gently downhill over many kilometres, crossing valleys on arched "
        "stone bridges, and fed public fountains and baths."),
    "espresso": ("food", 2023, ["coffee", "drinks"],
        "Espresso is made by forcing hot water at about nine bars of pressure through finely "
        "ground, tightly packed coffee. A good shot takes around twenty-five seconds and has a "
        "layer of golden crema on top."),
    "chess-openings": ("games", 2019, ["chess", "strategy"],
        "In the opening of a chess game, players try to control the centre of the board, "
        "develop their knights and bishops quickly and castle to keep the king safe. Popular "
        "openings include the Italian Game and the Sicilian Defence."),
    "water-cycle": ("science", 2018, ["earth", "weather"],
        "In the water cycle, the sun heats oceans and lakes so water evaporates into vapour. The "
        "vapour cools as it rises and condenses into clouds, then falls back as rain or snow and "
        "flows through rivers to the sea."),
    "vaccines": ("health", 2021, ["medicine", "immunity"],
        "A vaccine exposes the immune system to a harmless piece or weakened form of a pathogen. "
        "The body produces antibodies and memory cells, so that if the real virus arrives later "
        "it is recognised and fought off quickly."),
    "python-gc": ("technology", 2022, ["programming", "python"],
        "CPython frees memory mainly by reference counting: each object tracks how many "
        "references point to it and is deallocated when the count drops to zero. A separate "
        "cyclic garbage collector finds groups of objects that only refer to each other."),
    "marathon": ("sports", 2020, ["running", "training"],
        "Training for a marathon usually takes four to five months. Runners build weekly "
        "mileage gradually, include one long run each week, and taper in the final weeks so the "
        "legs are fresh for the forty-two kilometre race."),
    "impressionism": ("arts", 2016, ["painting", "france"],
        "Impressionism was an art movement of nineteenth-century France. Painters such as Monet "
        "and Renoir worked outdoors with quick, visible brushstrokes to capture the changing "
        "effects of light and colour rather than fine detail."),
    "glaciers": ("science", 2023, ["earth", "ice"],
        "Glaciers are rivers of ice that form where more snow falls than melts. As they slide "
        "slowly downhill they grind the rock beneath them, carving U-shaped valleys and leaving "
        "piles of debris called moraines."),
    "jazz": ("arts", 2017, ["music", "improvisation"],
        "Jazz musicians improvise melodies over a repeating chord progression. A soloist "
        "invents lines in the moment, drawing on scales, rhythms and phrases learned by ear, "
        "while the rhythm section keeps the harmony and the groove."),
    "printing-press": ("history", 2015, ["books", "inventions"],
        "Johannes Gutenberg's printing press with movable metal type, built around 1440, made "
        "books far cheaper to produce. Printed texts spread quickly across Europe and helped "
        "literacy and new ideas travel."),
    "compound-interest": ("finance", 2024, ["money", "saving"],
        "Compound interest means earning interest on previously earned interest as well as on "
        "the original deposit. Over long periods the balance grows exponentially, which is why "
        "starting to save early makes such a difference."),
    "solar-panels": ("energy", 2022, ["renewables", "electricity"],
        "Solar panels are made of photovoltaic cells, usually silicon. When sunlight strikes a "
        "cell it knocks electrons loose, and the electric field in the cell drives them through "
        "a circuit as direct current."),
    "octopus": ("nature", 2021, ["animals", "intelligence"],
        "Octopuses are remarkably intelligent invertebrates. They can open jars, escape from "
        "tanks and use coconut shells as shelters, and most of their neurons are in their eight "
        "arms rather than in the central brain."),
    "great-wall": ("history", 2018, ["china", "architecture"],
        "The Great Wall of China was built and rebuilt over many centuries to protect Chinese "
        "states from raids by nomadic peoples of the northern steppe. Most of the wall standing "
        "today dates from the Ming dynasty."),
    "origami": ("arts", 2019, ["paper", "crafts"],
        "Origami is the Japanese art of folding paper into shapes without cutting or gluing. "
        "The classic crane starts from a square sheet folded into a bird base, then the neck "
        "and tail are narrowed and the wings are spread."),
    "tides": ("science", 2016, ["ocean", "moon"],
        "Tides are caused mainly by the gravitational pull of the moon on the oceans. Water "
        "bulges on the side facing the moon and on the opposite side, so most coasts see two "
        "high tides and two low tides each day."),
    "blockchain": ("technology", 2023, ["cryptocurrency", "distributed-systems"],
        "In Bitcoin, miners compete to find a number that gives the block's hash enough leading "
        "zeros. This proof of work is costly to produce but easy to verify, and nodes accept the "
        "chain with the most accumulated work as the valid history."),
    "wine": ("food", 2020, ["drinks", "fermentation"],
        "Wine is made by fermenting crushed grapes. Yeast consumes the sugar in the juice and "
        "converts it into alcohol and carbon dioxide; red wine gets its colour from fermenting "
        "with the grape skins."),
    "heart": ("health", 2017, ["anatomy", "medicine"],
        "The human heart has four chambers. Blood from the body enters the right atrium, passes "
        "to the right ventricle and is pumped to the lungs, then returns to the left side, which "
        "pumps the oxygen-rich blood out through the aorta."),
    "cacti": ("nature", 2015, ["plants", "deserts"],
        "Cacti survive in deserts by storing water in thick, fleshy stems. Their leaves are "
        "reduced to spines, which lose little moisture, and shallow spreading roots soak up "
        "water quickly after a rare rainfall."),
    "apollo-11": ("history", 2019, ["space", "nasa"],
        "Apollo 11 landed on the moon on 20 July 1969. Neil Armstrong was the first person to "
        "step onto the lunar surface, followed by Buzz Aldrin, while Michael Collins orbited "
        "above in the command module."),
    "recycling": ("environment", 2024, ["plastic", "waste"],
        "Plastic recycling starts with sorting the collected waste by type of polymer. The "
        "plastic is washed, shredded into flakes and melted into pellets, which manufacturers "
        "turn into new products such as fibres and containers."),
    "sleep": ("health", 2022, ["sleep", "biology"],
        "The circadian rhythm is the body's internal clock, which runs on a cycle of roughly "
        "twenty-four hours. As evening darkness falls the brain releases melatonin, which makes "
        "us drowsy, and morning light resets the clock."),
    "violin": ("arts", 2021, ["music", "instruments"],
        "A violin is carved from wood: usually spruce for the top plate and maple for the back, "
        "ribs and neck. The strings vibrate when bowed, and the bridge passes the vibration to "
        "the hollow body, which amplifies the sound."),
    "sql-indexes": ("technology", 2020, ["databases", "performance"],
        "A database index is a separate data structure, usually a B-tree, that keeps the values "
        "of one or more columns in sorted order with pointers to the rows. The database can then "
        "find matching rows without scanning the whole table."),
    "coral-reefs": ("nature", 2023, ["ocean", "climate"],
        "Coral reefs are built by tiny animals that live together with colourful algae. When "
        "seawater becomes too warm, the corals expel the algae and turn white, a process called "
        "bleaching that can kill the reef."),
    "wind-turbines": ("energy", 2018, ["renewables", "electricity"],
        "A wind turbine converts the kinetic energy of moving air into electricity. The wind "
        "turns the large blades, the rotor spins a shaft connected to a generator in the "
        "nacelle, and many turbines together form a wind farm."),
    "olympics": ("sports", 2016, ["history", "greece"],
        "The ancient Olympic Games were held at Olympia in Greece from 776 BC in honour of Zeus. "
        "The modern Olympics were revived by Pierre de Coubertin, and the first modern games "
        "took place in Athens in 1896."),
}  # fmt: skip

QUERIES: Final[list[tuple[str, str]]] = [
    ("How do plants turn sunlight into chemical energy?", "photosynthesis"),
    ("What is the region of space where light cannot get out?", "black-holes"),
    ("Why did the people of Paris rise up against the king in 1789?", "french-revolution"),
    ("How do you keep a wild yeast culture alive for baking?", "sourdough"),
    ("How does a TCP sender react when packets get dropped?", "tcp-congestion"),
    ("What makes molten rock burst out of a mountain?", "volcanoes"),
    ("How do bees tell each other where the flowers are?", "honeybees"),
    ("How did ancient Rome bring drinking water into its towns?", "aqueducts"),
    ("What pressure and brewing time make a good coffee shot?", "espresso"),
    ("What should I aim for in the first moves of a chess game?", "chess-openings"),
    ("How does water rise into clouds and come back down as rain?", "water-cycle"),
    ("How does an injection teach the body to fight a disease?", "vaccines"),
    ("How does the Python interpreter free memory that is no longer used?", "python-gc"),
    ("How should I prepare to run a 42 km race?", "marathon"),
    ("Which French painters tried to capture light with loose brushwork?", "impressionism"),
    ("How do slow-moving masses of ice shape valleys?", "glaciers"),
    ("How do jazz soloists make up music on the spot?", "jazz"),
    ("How did the invention of movable type change the spread of books?", "printing-press"),
    ("Why does savings grow faster when interest earns interest?", "compound-interest"),
    ("How do photovoltaic cells produce electric current?", "solar-panels"),
    ("Can cephalopods solve problems like opening a jar?", "octopus"),
    ("Why was a huge wall built along China's northern frontier?", "great-wall"),
    ("How do you fold a paper crane?", "origami"),
    ("Why does the sea go in and out twice a day?", "tides"),
    ("How do Bitcoin miners agree on the next block?", "blockchain"),
    ("How does grape juice turn into an alcoholic drink?", "wine"),
    ("Which way does blood travel through the chambers of the heart?", "heart"),
    ("How do desert plants survive long periods without rain?", "cacti"),
    ("Who was the first person to walk on the moon?", "apollo-11"),
    ("What happens to plastic bottles after they are collected for recycling?", "recycling"),
    ("Why do we start to feel sleepy when it gets dark?", "sleep"),
    ("What kinds of wood are used to make a violin?", "violin"),
    ("How does an index make database lookups faster?", "sql-indexes"),
    ("Why do corals turn white when the ocean gets warmer?", "coral-reefs"),
    ("How do wind farms generate electricity?", "wind-turbines"),
    ("When and where were the first modern Olympic Games held?", "olympics"),
]

DOCUMENTS: Final[dict[str, dict[str, Any]]] = {
    doc_id: {
        "id": doc_id,
        "text": text,
        "metadata": {"category": category, "year": year, "tags": tags, "source": "test-corpus"},
    }
    for doc_id, (category, year, tags, text) in _DOCS.items()
}


def documents_payload() -> list[dict[str, Any]]:
    """The corpus as the ``documents`` parameter of rag_add_document (fresh copies)."""
    return [
        {"id": d["id"], "text": d["text"], "metadata": dict(d["metadata"])}
        for d in DOCUMENTS.values()
    ]

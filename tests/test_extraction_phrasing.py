"""Paper extraction on phrasings the seed digests do not use (issue 11, item 5).

Every digest here is written for this file, in new words: short names before " :" or ":",
titles with " in " and " for ", "Work by X et al." introductions, author lists written as "A,
B, and C" or "University's A and B", institutions of unnamed researchers, topic labels over
bullets, markdown and HTML links to arXiv, and one paper named in two digests in two ways.
Offline and fast: no model, no network.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.corpus.ingest import load_corpus
from rag.extract.papers import PaperSet, extract_papers
from rag.records import Paper
from rag.text import normalize_title
from rag.urls import classify_url

HEAD = "Weekly Notes on Learning Systems\nLatest 4 papers on machine learning: May 2, 2026\n"


def extract(folder: Path, files: dict[str, str]) -> PaperSet:
    """Write ``files`` (name -> text) into ``folder`` and extract their papers."""
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    docs, warnings = load_corpus(folder)
    assert warnings == []
    return extract_papers(docs)


def only_paper(folder: Path, body: str) -> Paper:
    (paper,) = extract(folder, {"d.txt": HEAD + body + "\n"}).papers.values()
    return paper


def same(a: str, b: str) -> bool:
    return normalize_title(a) == normalize_title(b)


# Classes of extraction failure seen on unseen digests, in new words: one paper a passage.
PASSAGES = [
    # the authors' sentence names no paper; the next sentence names it, without "their paper"
    ("The boldest claim comes from Petra Lindqvist et al. at the Karolinska Institute. In "
     "Pulse Oximetry Bias Across Skin Tones in Intensive Care, they re-examine 9,000 paired "
     "readings.", "Pulse Oximetry Bias Across Skin Tones in Intensive Care", None,
     "Petra Lindqvist et al.", ("Karolinska Institute",)),
    # a sentence opening "In <Title>," with a hyphenated word holding an institution word
    ("In Cross-Hospital Triage Models for Rural Emergency Rooms, Ama Owusu, Kwame Asante, and "
     "Efua Mensah (University of Ghana) pool records from nine clinics.",
     "Cross-Hospital Triage Models for Rural Emergency Rooms", None,
     "Ama Owusu, Kwame Asante, and Efua Mensah", ("University of Ghana",)),
    # names in parentheses right after the authors are where they work, not more authors or a
    # title; "University of X and Y" inside them is not an author list
    ("Tessa Brandt, Jonas Vik, and Mila Horvat (Zalando and TU Graz) present Returns "
     "Forecasting for Fashion Retail with Sparse Histories, trained on 2 million orders.",
     "Returns Forecasting for Fashion Retail with Sparse Histories", None,
     "Tessa Brandt, Jonas Vik, and Mila Horvat", ("Zalando", "TU Graz")),
    ("Ivo Petrov and Lea Novak (University of Zagreb and IIT Madras) propose Sparse Attention "
     "Priors for Tabular Forecasting, which trims half the attention heads.",
     "Sparse Attention Priors for Tabular Forecasting", None, "Ivo Petrov and Lea Novak",
     ("University of Zagreb", "IIT Madras")),
    # a coined name defined later in the passage: "their X scheme", or a name whose capitals are
    # the title's initials, written as the next sentence's subject
    ("In Low-Rank Rotations for Federated Speech Adapters, Hana Sato and Ken Mori (Kyoto "
     "University) rotate adapters before averaging; their FedRoSA scheme cuts word errors by "
     "8%.", "Low-Rank Rotations for Federated Speech Adapters", "FedRoSA",
     "Hana Sato and Ken Mori", ("Kyoto University",)),
    ("Their paper, Weather Radar Priors as Storm Teachers for Nowcasting, distils radar "
     "composites into a small student. WRTeach beats optical flow by 12% at 30 minutes.",
     "Weather Radar Priors as Storm Teachers for Nowcasting", "WRTeach", None, ()),
    # ", <number> ..." after a title starts the description, not more of the title
    ("Researchers from the University of Bergen introduce FjordSense: A Sonar Benchmark for "
     "Coastal Fish Counting, 300 hours of recordings from six fjords.",
     "FjordSense: A Sonar Benchmark for Coastal Fish Counting", "FjordSense", None,
     ("University of Bergen",)),
    # one person standing for the group: "X's lab at Y", "Title comes from X of Y, who",
    # "X, whose team at Y presents", "X, who leads the ... group at Y, is behind Title"
    ("Priya Raman's lab at the University of Toronto describes Sparse Routing for Tabular "
     "Mixture Models, a gated model for spreadsheets.",
     "Sparse Routing for Tabular Mixture Models", None, "Priya Raman",
     ("University of Toronto",)),
    ("KelpNet: Kelp Forest Mapping from Drone Imagery comes from Jun Li of Peking University, "
     "who introduces a segmenter trained on 900 survey flights.",
     "KelpNet: Kelp Forest Mapping from Drone Imagery", "KelpNet", "Jun Li",
     ("Peking University",)),
    ("Ocean sensing got a fresh entry from Jonas Berg, whose team at the Alfred Wegener "
     "Institute presents Plankton Counting with Holographic Microscopes, which images each "
     "drop of seawater once.", "Plankton Counting with Holographic Microscopes", None,
     "Jonas Berg", ("Alfred Wegener Institute",)),
    # "Universidad de X and Y": two institutions, as "University of X and Y" is
    ("Ana Ruiz and Bo Chen from Universidad de Chile and Inria describe Glacier Melt "
     "Forecasting with Sparse Weather Stations, pooling nine valleys.",
     "Glacier Melt Forecasting with Sparse Weather Stations", None, "Ana Ruiz and Bo Chen",
     ("Universidad de Chile", "Inria")),
    # what the authors describe is a title even when it holds an institution word
    ("Lina Park and Omar Haddad from the University of Leeds describe Predicting Hospital "
     "Readmissions with Sparse Clinical Notes, pooling records from twelve trusts.",
     "Predicting Hospital Readmissions with Sparse Clinical Notes", None,
     "Lina Park and Omar Haddad", ("University of Leeds",)),
]


# ---------------------------------------------------------------- one sentence, one paper


@pytest.mark.parametrize("sentence, title, short, authors, institutions", [
    # a short name before a spaced colon, then a title with " for "
    ("Olga Petrova et al. from Charles University present GraphMorph : Learning Shape Priors "
     "for Mesh Deformation, which bends template meshes to fit noisy scans.",
     "GraphMorph: Learning Shape Priors for Mesh Deformation", "GraphMorph",
     "Olga Petrova et al.", ("Charles University",)),
    # the title opens the sentence after "In"; its authors follow the comma
    ("In TideNet: Forecasting Coastal Flooding with Sparse Gauges, Ines Duarte and Paulo Reis "
     "(University of Lisbon) merge tide gauges with satellite altimetry.",
     "TideNet: Forecasting Coastal Flooding with Sparse Gauges", "TideNet",
     "Ines Duarte and Paulo Reis", ("University of Lisbon",)),
    # " in " inside the title is not where it starts
    ("Tomas Berg et al. (Aalto University) study Spectral Token Pruning and Its Application in "
     "Medical Image Segmentation, reporting large savings on CT volumes.",
     "Spectral Token Pruning and Its Application in Medical Image Segmentation", None,
     "Tomas Berg et al.", ("Aalto University",)),
    ("In Patient Graphs for Early Warning in Emergency Departments, Omar Said and Lina Haddad "
     "from Cairo University link visits that share vital-sign trends.",
     "Patient Graphs for Early Warning in Emergency Departments", None,
     "Omar Said and Lina Haddad", ("Cairo University",)),
    # "A, B, and C" before a verb; "University’s A and B" (both apostrophes)
    ("Ana Lopez, Wei Zhang, and Omar Farouk propose Sparse Graph Adapters for Molecular "
     "Property Prediction, a plug-in module for frozen encoders.",
     "Sparse Graph Adapters for Molecular Property Prediction", None,
     "Ana Lopez, Wei Zhang, and Omar Farouk", ()),
    ("Stanford University's Ana Lopez and Wei Zhang propose Curriculum Distillation for Tiny "
     "Speech Models, which halves the word error rate of a 5M-parameter recogniser.",
     "Curriculum Distillation for Tiny Speech Models", None, "Ana Lopez and Wei Zhang",
     ("Stanford University",)),
    ("Delft University of Technology’s Pieter Smit and Anouk Visser introduce Quiet Rotors: "
     "Learning Drone Noise Models from Street Recordings, which maps noise across a city.",
     "Quiet Rotors: Learning Drone Noise Models from Street Recordings", None,
     "Pieter Smit and Anouk Visser", ("Delft University of Technology",)),
    # a bare proper name's possessive before a team and a verb is their institution
    ("Cambridge’s Hannah Webb and Tariq Aziz describe Sparse Probes for Coral Reef Audio, "
     "which counts fish calls in hydrophone recordings.",
     "Sparse Probes for Coral Reef Audio", None, "Hannah Webb and Tariq Aziz", ("Cambridge",)),
    # "X from University Y introduces ..."
    ("Kofi Mensah from University of Ghana introduces Soil Moisture Transfer Across "
     "Continents, a model that moves irrigation forecasts between farms.",
     "Soil Moisture Transfer Across Continents", None, "Kofi Mensah", ("University of Ghana",)),
    # unnamed researchers: their institutions are the paper's
    ("Researchers from MIT, Harvard University and Tsinghua University propose Causal Probes "
     "for Vision Transformers, a toolkit for finding shortcut features.",
     "Causal Probes for Vision Transformers", None, None,
     ("MIT", "Harvard University", "Tsinghua University")),
    ("A team spanning the University of Leeds and Arup presents BridgeWatch: Crack Detection "
     "for Ageing Railway Bridges, trained on drone footage.",
     "BridgeWatch: Crack Detection for Ageing Railway Bridges", "BridgeWatch", None,
     ("University of Leeds", "Arup")),
    # no leading "from" inside the parentheses
    ("Lee et al. (from Seoul National University) propose Prompt Bridges for Cross-Lingual "
     "Retrieval, a method for matching queries across scripts.",
     "Prompt Bridges for Cross-Lingual Retrieval", None, "Lee et al.",
     ("Seoul National University",)),
    # "Work by X et al. from Y, Title, verb": the title is not an institution
    ("Work by Maria Keller et al. from Ghent University, Contrastive Pretraining for Soil "
     "Spectra with Weak Labels, maps infrared spectra to nutrient levels.",
     "Contrastive Pretraining for Soil Spectra with Weak Labels", None, "Maria Keller et al.",
     ("Ghent University",)),
    # institutions written before the people: sentence-initial "From X,", "X researchers"
    ("From the University of Tartu, Kristjan Tamm and Liis Kask present LexiGraph: Building "
     "Knowledge Graphs from Estonian Court Rulings, which links cases by cited statutes.",
     "LexiGraph: Building Knowledge Graphs from Estonian Court Rulings", "LexiGraph",
     "Kristjan Tamm and Liis Kask", ("University of Tartu",)),
    ("KAIST researchers led by Ji-ho Park introduce FlowPrune: Pruning Normalizing Flows for "
     "On-Device Density Estimation, a pruning scheme for phones.",
     "FlowPrune: Pruning Normalizing Flows for On-Device Density Estimation", "FlowPrune",
     "Ji-ho Park", ("KAIST",)),
    ("ETH Zurich’s Lukas Meier, Sara Rossi, and Jan Novak describe Event Cameras for Drone "
     "Racing in the Dark, which fuses event streams with inertial data.",
     "Event Cameras for Drone Racing in the Dark", None,
     "Lukas Meier, Sara Rossi, and Jan Novak", ("ETH Zurich",)),
    # a title in single quotes; a coined name before "by" or an arXiv reference
    ("Nora Quist et al. (Uppsala University) — in ‘Graph Priors for Protein Docking at Scale’ "
     "— show that coarse graphs suffice.", "Graph Priors for Protein Docking at Scale", None,
     "Nora Quist et al.", ("Uppsala University",)),
    ("The pick of the week is PolicyDistill by Ravi Shah (Georgia Tech), which compresses "
     "driving policies.", "PolicyDistill", "PolicyDistill", "Ravi Shah", ("Georgia Tech",)),
    ("The team of Marta Nowak at the University of Warsaw argues in Why Calibration Fails "
     "under Label Shift that temperature scaling is not enough.",
     "Why Calibration Fails under Label Shift", None, "Marta Nowak", ("University of Warsaw",)),
] + PASSAGES)
def test_one_sentence(tmp_path, sentence, title, short, authors, institutions):
    paper = only_paper(tmp_path, sentence)
    assert same(paper.title, title), paper.title
    assert paper.short_name == short
    assert paper.authors == ((authors,) if authors else ())
    assert paper.institutions == institutions


# ---------------------------------------------------------------- across sentences


def test_work_by_introduces_the_next_paragraphs_paper(tmp_path):
    paper = only_paper(tmp_path, "Our first pick this week is an unusual one.\n"
                                 "Work by Hana Sato and Lena Kurz (Kyoto University).\n"
                                 "The paper Adaptive Aggregation for Low-Resource Clients shows "
                                 "that weighting updates by data volume helps small hospitals.")
    assert paper.title == "Adaptive Aggregation for Low-Resource Clients"
    assert paper.authors == ("Hana Sato and Lena Kurz",)
    assert paper.institutions == ("Kyoto University",)


def test_work_by_heading_introduces_the_paper_below(tmp_path):
    (paper,) = extract(tmp_path, {"h.md": "# Notes\n\n## Picks\n\n### Work by Hana Sato and "
                                          "Lena Kurz (Kyoto University)\n\nThe paper Adaptive "
                                          "Aggregation for Low-Resource Clients weights updates "
                                          "by data volume.\n"}).papers.values()
    assert paper.title == "Adaptive Aggregation for Low-Resource Clients"
    assert paper.authors == ("Hana Sato and Lena Kurz",)
    assert paper.institutions == ("Kyoto University",)


def test_arxiv_reference_in_text_gives_the_id(tmp_path):
    paper = only_paper(tmp_path, "A highlight is HydroFormer (arXiv:2603.04567), in which Ole "
                                 "Dahl and Siri Lund from NTNU forecast river discharge.")
    assert (paper.title, paper.arxiv_id) == ("HydroFormer", "2603.04567")
    assert paper.authors == ("Ole Dahl and Siri Lund",) and paper.institutions == ("NTNU",)


def test_work_by_sentence_then_title_sentence(tmp_path):
    paper = only_paper(tmp_path, "Work by Ravi Menon et al. from IIT Delhi comes next. Their "
                                 "paper Sparse Uplinks for Phones halves the upload traffic.")
    assert (paper.title, paper.authors) == ("Sparse Uplinks for Phones", ("Ravi Menon et al.",))


def test_authors_in_the_sentence_after_an_unattributed_title(tmp_path):
    paper = only_paper(tmp_path, "Unlearning meets federated training in QuickForget: Removing "
                                 "Clients without Retraining. Yuki Ono and Rafael Lima "
                                 "(University of Brasília) keep per-client update histories.")
    assert paper.short_name == "QuickForget"
    assert paper.authors == ("Yuki Ono and Rafael Lima",)
    assert paper.institutions == ("University of Brasília",)


def test_resource_bullets_with_plain_plural_labels_are_not_papers(tmp_path):
    ps = extract(tmp_path, {"d.txt": HEAD + "\n".join([
        "- Tidal Graphs for Estuary Flooding: Mari Sol and Tor Eik (University of Oslo) chain "
        "gauges into a graph.",
        "- Simulators: Isaac Gym, Brax and Habitat were the common choices.",
        "- Platforms: Jetson Orin and Raspberry Pi 5 for the on-device runs."]) + "\n"})
    assert [p.title for p in ps.papers.values()] == ["Tidal Graphs for Estuary Flooding"]


# ---------------------------------------------------------------- bullets and labels


def test_topic_labels_code_labels_and_label_title_heads(tmp_path):
    ps = extract(tmp_path, {"d.txt": HEAD + "\n".join([  # noqa: FLY002 (one line a bullet)
        "Under the Hood: Models, Datasets, & Benchmarks",
        "- Crop Science: Amara Nwosu and Tunde Bakare from the University of Ibadan present "
        "Drought Stress Detection from Leaf Images for Smallholder Farms, trained on phone "
        "photos.",
        "- Seismology: Work by Aiko Mori et al. from Tohoku University, Aftershock Forecasting "
        "with Graph Attention and Its Application in Early Warning, ranks stations by risk.",
        "- RoadMix: Weather Augmentation for Lane Detection in Heavy Rain: Researchers from the "
        "University of Oslo blend synthetic rain streaks into dashcam frames.",
        "- RoadMix code: https://github.com/roadmix/roadmix",
        "- Benchmarks: CULane, TuSimple",
        "- Navigation Benchmarks: HM3D, Gibson"]) + "\n"})
    titles = {p.title: p for p in ps.papers.values()}
    assert set(titles) == {
        "Drought Stress Detection from Leaf Images for Smallholder Farms",
        "Aftershock Forecasting with Graph Attention and Its Application in Early Warning",
        "RoadMix: Weather Augmentation for Lane Detection in Heavy Rain"}
    road = titles["RoadMix: Weather Augmentation for Lane Detection in Heavy Rain"]
    assert road.short_name == "RoadMix" and road.institutions == ("University of Oslo",)
    assert road.code_urls == ("https://github.com/roadmix/roadmix",)
    quake = titles["Aftershock Forecasting with Graph Attention and Its Application in Early "
                   "Warning"]
    assert quake.authors == ("Aiko Mori et al.",) and quake.institutions == ("Tohoku University",)


MARKDOWN = """# Vision Digest: Fewer Labels

*Published 3 May 2026 · Vision Digest · 6 min read*

## Highlights

**[PoseLift: Monocular 3D Pose Estimation for Crowded Scenes](https://arxiv.org/abs/2605.01234)**
by Clara Nilsson, Jonas Berg, and Eva Lind (Lund University and Axis Communications) lifts 2D
keypoints to 3D with a crowd-aware prior.

- **Remote sensing:** Work by Hamid Rezaei et al. from Sharif University of Technology, \
[Cloud Removal for Optical Satellite Images via Radar Guidance](https://arxiv.org/abs/2605.04321), \
fills clouded pixels from radar. Tiles are published at [Zenodo](https://zenodo.org/records/777).
- **Medicine:** Nadia Amini and Leo Park of the Karolinska Institute report in \
*Few-Shot Lesion Segmentation with Frozen Encoders* that a frozen encoder is enough.
"""


def test_markdown_links_bold_labels_and_emphasis(tmp_path):
    ps = extract(tmp_path, {"md.md": MARKDOWN})
    by_title = {p.title: p for p in ps.papers.values()}
    assert set(by_title) == {"PoseLift: Monocular 3D Pose Estimation for Crowded Scenes",
                             "Cloud Removal for Optical Satellite Images via Radar Guidance",
                             "Few-Shot Lesion Segmentation with Frozen Encoders"}
    pose = by_title["PoseLift: Monocular 3D Pose Estimation for Crowded Scenes"]
    assert pose.arxiv_id == "2605.01234" and pose.short_name == "PoseLift"
    assert pose.institutions == ("Lund University", "Axis Communications")
    cloud = by_title["Cloud Removal for Optical Satellite Images via Radar Guidance"]
    assert cloud.arxiv_id == "2605.04321"
    assert cloud.institutions == ("Sharif University of Technology",)
    assert cloud.data_urls == ("https://zenodo.org/records/777",)
    lesion = by_title["Few-Shot Lesion Segmentation with Frozen Encoders"]
    assert lesion.authors == ("Nadia Amini and Leo Park",)
    assert lesion.institutions == ("Karolinska Institute",)


HTML = """<html><head><title>Graph Notes</title></head><body>
<h1>Graph Notes: Week 18</h1><p>Latest 3 papers on graphs: 2026-05-02</p>
<h2>Highlights</h2>
<p>A group spanning the University of Bergen and Equinor proposes <a
href="https://arxiv.org/abs/2605.02222">Reservoir Graphs for Subsurface Flow Surrogates</a>.
It replaces a simulator with a message-passing network.</p>
<ul><li><strong>Chemistry:</strong> Ivana Horvat and Luka Babic (University of Zagreb) introduce
<a href="https://arxiv.org/abs/2605.03333">MolSketch : Sketch-Based Retrieval of Molecules</a>,
which matches hand drawings to structures.</li>
<li><strong>Datasets:</strong> ZINC, QM9</li></ul></body></html>"""


def test_html_link_titles_get_their_arxiv_ids(tmp_path):
    ps = extract(tmp_path, {"g.html": HTML})
    by_id = {p.arxiv_id: p for p in ps.papers.values()}
    assert set(by_id) == {"2605.02222", "2605.03333"}
    assert by_id["2605.02222"].title == "Reservoir Graphs for Subsurface Flow Surrogates"
    assert by_id["2605.02222"].institutions == ("University of Bergen", "Equinor")
    mol = by_id["2605.03333"]
    assert same(mol.title, "MolSketch: Sketch-Based Retrieval of Molecules")
    assert mol.short_name == "MolSketch" and mol.authors == ("Ivana Horvat and Luka Babic",)


SPEECH = """<html><head><title>Speech Weekly</title></head><body>
<h1>Speech Weekly: Accents and Adapters</h1><p>Posted May 9, 2026</p><h2>Top papers</h2>
<p><strong>Accent Adapters for Whisper-Style Recognisers</strong> (Fatou Ndiaye, Jean Dupont, and
Moussa Ba, Université Gaston Berger) add small adapters per accent and cut errors by a fifth.</p>
<ul><li><a href="https://arxiv.org/pdf/2605.07777v2">ProsodyTTS: Controllable Prosody for
Low-Resource Text-to-Speech</a> — Hina Aslam et al. (LUMS) transfer prosody between
languages.</li>
<li><b>EchoClean</b>: a dereverberation model by Tom Berger (Fraunhofer IDMT). Code:
<a href="https://github.com/echoclean/echoclean">GitHub</a></li></ul>
<p>Another study, Speaker Verification for Children’s Voices, by Amy Chen et al. (University of
Sydney), retunes embeddings for young speakers.</p></body></html>"""


def test_html_titles_before_parenthesised_authors_and_in_bullet_links(tmp_path):
    ps = extract(tmp_path, {"s.html": SPEECH})
    got = {p.title: (p.short_name, p.authors, p.institutions, p.arxiv_id, p.code_urls)
           for p in ps.papers.values()}
    assert got == {
        "Accent Adapters for Whisper-Style Recognisers": (
            None, ("Fatou Ndiaye, Jean Dupont, and Moussa Ba",), ("Université Gaston Berger",),
            None, ()),
        "ProsodyTTS: Controllable Prosody for Low-Resource Text-to-Speech": (
            "ProsodyTTS", ("Hina Aslam et al.",), ("LUMS",), "2605.07777", ()),
        "EchoClean": ("EchoClean", ("Tom Berger",), ("Fraunhofer IDMT",), None,
                      ("https://github.com/echoclean/echoclean",)),
        "Speaker Verification for Children’s Voices": (
            None, ("Amy Chen et al.",), ("University of Sydney",), None, ())}


# ---------------------------------------------------------------- across digests


def test_full_title_in_one_digest_and_short_name_in_another_is_one_paper(tmp_path):
    ps = extract(tmp_path, {
        "a.txt": HEAD + "Jin Park et al. from KAIST introduce FedTide: Federated Forecasting "
                        "of Coastal Water Levels, which pools gauges without sharing them.\n",
        "b.txt": HEAD + "Under the Hood: Models, Datasets, & Benchmarks\n"
                        "- FedTide: still the baseline to beat for gauge networks.\n"
                        "Impact & The Road Ahead\n"
                        "Several teams now compare against FedTide by default.\n",
        "c.txt": HEAD + "A follow-up to Federated Forecasting of Coastal Water Levels by Jin Park "
                        "et al. (KAIST) adds tidal harmonics.\n"})
    (paper,) = ps.papers.values()
    assert paper.title == "FedTide: Federated Forecasting of Coastal Water Levels"
    assert paper.short_name == "FedTide" and set(paper.digest_ids) == {"a", "b", "c"}


# ---------------------------------------------------------------- URLs


@pytest.mark.parametrize("context, url, kind", [
    ("The base images come from the ", "https://www.lesion-archive.org/", "data"),
    ("It is evaluated on ", "https://physionet.org/content/abc/1.0/", "data"),
    ("Project page: ", "https://someone.github.io/project/", "code"),
    ("", "https://gitlab.com/a/b", "code"),
])
def test_classify_url_by_host_and_context(context, url, kind):
    assert classify_url(url, context) == kind


# ---------------------------------------------------------------- not papers, and headings


def test_figures_test_sets_clauses_and_teams_are_not_titles(tmp_path):
    ps = extract(tmp_path, {"d.txt": HEAD + "\n".join([
        "Wind first. Researchers from Ghent University and Imec propose *Gust Forecasting for "
        "Offshore Wind Farms with Graph Diffusion*, a model of wake effects. Error is 4.7% "
        "across 52 Dutch and Belgian wind farms, ahead of persistence.",
        "On Proteins-struct from the Open Molecule Benchmark it reaches an AP of 0.61. The "
        "model is 6x smaller than in BF16, WikiText perplexity rises by 0.2 points. It skips "
        "41% of FLOPs on TextVQA for a 0.3-point loss."]) + "\n"})
    (paper,) = ps.papers.values()
    assert paper.title == "Gust Forecasting for Offshore Wind Farms with Graph Diffusion"
    assert paper.institutions == ("Ghent University", "Imec")


def test_plural_topic_label_and_front_matter_title_are_not_papers(tmp_path):
    ps = extract(tmp_path, {"f.md": "---\nlayout: post\ntitle: \"Ocean Sensing Digest: Kelp, "
                                    "Plankton and Reefs\"\ndate: 2026-05-02\n---\n\n"
                                    "Hana Ito et al. (Tohoku University) present ReefTone: "
                                    "Coral Health from Underwater Sound, trained on 300 "
                                    "hydrophones.\n\n"
                                    "- **Ablations:** in extra runs, the ReefTone authors also "
                                    "drop the spectral branch and lose four points.\n"})
    (paper,) = ps.papers.values()
    assert paper.short_name == "ReefTone" and len(paper.mentions) == 2


def test_heading_titles_give_their_title_to_the_authors_below(tmp_path):
    ps = extract(tmp_path, {"h.md": "# Tabular Notes\n\n### Sparse Adapters for Tabular "
                                    "Transformers\nMei Tanaka and Jonas Vik (University of "
                                    "Bergen) freeze the backbone and train one adapter per "
                                    "table.\n\n**Glacier Melt Forecasting with Sparse Weather "
                                    "Stations**\nAna Ruiz from the University of Chile pools "
                                    "nine valleys into one model.\n"})
    got = {p.title: (p.authors, p.institutions) for p in ps.papers.values()}
    assert got == {
        "Sparse Adapters for Tabular Transformers": (("Mei Tanaka and Jonas Vik",),
                                                     ("University of Bergen",)),
        "Glacier Melt Forecasting with Sparse Weather Stations": (("Ana Ruiz",),
                                                                  ("University of Chile",))}


def test_work_by_bullet_label_gives_authors_to_the_title_after_it(tmp_path):
    paper = only_paper(tmp_path, "1. Work by Inga Holm et al. (DTU): Sparse Priors for District "
                                 "Heating Demand. It cuts peak error by a third.")
    assert paper.title == "Sparse Priors for District Heating Demand"
    assert (paper.authors, paper.institutions) == (("Inga Holm et al.",), ("DTU",))


def test_team_institutions_stay_when_the_authors_come_a_sentence_later(tmp_path):
    paper = only_paper(tmp_path, "In DuneNet: Mapping Dune Migration from Radar Time Series, "
                                 "researchers from Cairo University and TU Delft track sand "
                                 "fronts. Salma Farid and Joost Bakker report errors under one "
                                 "metre.")
    assert paper.authors == ("Salma Farid and Joost Bakker",)
    assert paper.institutions == ("Cairo University", "TU Delft")


def test_arxiv_link_text_is_the_title_over_a_cut_cue_title(tmp_path):
    ps = extract(tmp_path, {"r.html": "<html><body><h1>Retail Notes</h1><p>Posted May 9, "
                                      "2026</p><p>Ida Holm and Per Lind put four models &mdash; "
                                      "including one we covered in April &mdash; through a "
                                      "stress test in <a href=\"https://arxiv.org/abs/2605.11111"
                                      "\">Do Tabular Models Survive Drift? A Stress Test on "
                                      "Retail Data</a>. Only one of them holds up.</p>"
                                      "</body></html>"})
    (paper,) = ps.papers.values()
    assert paper.title == "Do Tabular Models Survive Drift? A Stress Test on Retail Data"
    assert paper.arxiv_id == "2605.11111"


# ---------------------------------------------------------------- URLs and their papers


def test_code_link_goes_to_the_paper_its_repository_names_not_the_baseline(tmp_path):
    ps = extract(tmp_path, {"d.txt": HEAD + "\n".join([
        "Kai Ono et al. (Osaka University) present RowMixer: Mixing Rows for Tabular Learning. "
        "Code: https://github.com/osaka-ml/rowmixer.",
        "Mei Tanaka and Jonas Vik (University of Bergen) present TabAdapt: Sparse Adapters for "
        "Tabular Transformers. It nearly matches RowMixer at a tenth of the cost. Code: "
        "https://github.com/bergen-ml/tabadapt",
        "Sara Lund and Omar Aziz (Lund University) present Drift Alarms for Streaming Tables. "
        "It flags drift a day before RowMixer degrades. Code: "
        "https://github.com/lund-ml/drift-alarms"]) + "\n"})
    code = {p.short_name or p.title: p.code_urls for p in ps.papers.values()}
    assert code == {"RowMixer": ("https://github.com/osaka-ml/rowmixer",),
                    "TabAdapt": ("https://github.com/bergen-ml/tabadapt",),
                    "Drift Alarms for Streaming Tables": ("https://github.com/lund-ml/drift-alarms",)}


def test_descriptive_bullet_labels_name_a_paper_of_their_digest(tmp_path):
    ps = extract(tmp_path, {"d.txt": HEAD + "\n".join([
        "Ravi Menon et al. (IIT Delhi) present Nowcasting Rainfall from Soil Moisture Probes, "
        "which reads 400 buried sensors.",
        "Ines Duarte and Paulo Reis (University of Lisbon) present Sea Ice Edge Tracking with "
        "Synthetic Aperture Radar, a segmenter for polar imagery.",
        "Under the Hood: Models, Datasets, & Benchmarks",
        "- Soil moisture study: readings released at https://zenodo.org/records/7654321.",
        "- Ice-edge SAR tracker: trained on Sentinel-1 scenes; https://github.com/ul-ice/edge"
        ]) + "\n"})
    got = {p.title: (p.data_urls, p.code_urls) for p in ps.papers.values()}
    assert got == {
        "Nowcasting Rainfall from Soil Moisture Probes": (
            ("https://zenodo.org/records/7654321",), ()),
        "Sea Ice Edge Tracking with Synthetic Aperture Radar": (
            (), ("https://github.com/ul-ice/edge",))}

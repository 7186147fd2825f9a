"""Chart of a bench run: python3 chart.py <benchmarks.json> <benchmarks.png>.

Written by test/bench/run.ts after the JSON; installs matplotlib with pip when it is missing.
"""
import json
import statistics
import subprocess
import sys

try:
    import matplotlib
except ImportError:
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "matplotlib"], check=True)
    import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

OURS = "#1f6feb"
PEER = "#8b949e"
STORE = "#d29922"


def med(xs, key="perSecond"):
    return statistics.median(x[key] for x in xs)


def bars(ax, labels, values, colors, title, unit, fmt="{:,.0f}", log=False):
    b = ax.bar(labels, values, color=colors)
    ax.set_title(title, fontsize=10, fontweight="bold")
    ax.set_ylabel(unit)
    if log:
        ax.set_yscale("log")
    for rect, v in zip(b, values):
        ax.annotate(fmt.format(v), (rect.get_x() + rect.get_width() / 2, rect.get_height()),
                    ha="center", va="bottom", fontsize=8)
    ax.tick_params(axis="x", labelsize=8)
    ax.margins(y=0.15)


def main(src, dst):
    r = json.load(open(src))
    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5))
    p = r["producer"]
    bars(axes[0][0], ["ours\npublish", "raw kafkajs\nsendBatch", "seed-style\nsend", "Java\nProducerPerf"],
         [med(p["ours"]), med(p["raw"]), med(p["seedStyle"]), med(p["java"])],
         [OURS, PEER, PEER, PEER], "1. Producer throughput (acks=all, ~1 KB)", "events/s (log)", log=True)
    c = r["consumer"]
    bars(axes[0][1], ["consumer\nutility", "emulator +\nno-op fn", "emulator + audit\n+ DynamoDB"],
         [med(c["utility"]), med(c["esmNoop"]), med(c["esmAudit"])], [OURS, OURS, STORE],
         "2. Consumer throughput", "records/s")
    lo, k = r["latency"]["ours"], r["latency"]["kafka"]
    ax = axes[0][2]
    xs = ["p50", "p95", "p99"]
    ours_bars = ax.bar([i - 0.2 for i in range(3)], [lo["p50Ms"], lo["p95Ms"], lo["p99Ms"]], 0.4, color=OURS,
                       label="publish → audit entry readable (emulator, 1 s window)")
    kafka_bars = ax.bar([0.2, 2.2], [k["p50Ms"], k["p99Ms"]], 0.4, color=PEER, label="Kafka EndToEndLatency")
    for rect in [*ours_bars, *kafka_bars]:
        ax.annotate(f"{rect.get_height():,.0f}", (rect.get_x() + rect.get_width() / 2, rect.get_height()),
                    ha="center", va="bottom", fontsize=8)
    limit = 3 * k["p99Ms"] + r["settings"]["esmBatchingWindowMs"] + r["settings"]["producer"]["lingerMs"]
    ax.axhline(limit, color="#cf222e", linestyle="--", linewidth=1, label=f"goal for p99 ({limit:,.0f} ms)")
    ax.set_xticks(range(3), xs)
    ax.set_yscale("log")
    ax.set_ylim(top=max(lo["p99Ms"], limit) * 20)
    ax.set_ylabel("ms (log)")
    ax.set_title(f"3. End-to-end latency at {lo['offeredPerSecond']} events/s", fontsize=10, fontweight="bold")
    ax.legend(fontsize=7, loc="upper left")
    lam = r["lambda"]
    names = [f["name"] for f in lam["functions"]]
    bars(axes[1][0], names + ["layer"],
         [f["deployedBytes"] / 1024 for f in lam["functions"]] + [lam["layer"]["deployedBytes"] / 1024],
         [OURS] * len(names) + [PEER], "4. Lambda packages (as deployed; goal ≤ 300 KB per function)", "KB",
         fmt="{:,.1f}", log=True)
    axes[1][0].axhline(300, color="#cf222e", linestyle="--", linewidth=1)
    bars(axes[1][1], ["bare"] + [x["name"] for x in lam["coldInit"]],
         [lam["bare"]["initMs"]] + [x["initMs"] for x in lam["coldInit"]],
         [PEER] + [OURS] * len(lam["coldInit"]), "4. Cold init (fresh process → handler imported)", "ms (median)")
    axes[1][1].axhline(2 * lam["bare"]["initMs"], color="#cf222e", linestyle="--", linewidth=1)
    m = r["memory"]
    ax = axes[1][2]
    ax.bar([-0.2, 0.8], [m["before"]["rssMiB"], m["before"]["heapUsedMiB"]], 0.4, color=PEER, label="before")
    ax.bar([0.2, 1.2], [m["after"]["rssMiB"], m["after"]["heapUsedMiB"]], 0.4, color=OURS,
           label=f"after {m['events']:,} events")
    ax.set_xticks([0, 1], ["RSS", "heapUsed"])
    ax.set_ylabel("MiB (after GC)")
    ax.set_title(f"5. Producer memory (RSS {m['rssGrowthPct']:+.1f} %)", fontsize=10, fontweight="bold")
    ax.legend(fontsize=8)
    mach = r["machine"]
    fig.suptitle(f"esante event bus — {r['command']} — {mach['cores']} cores, Node {mach['node']}, "
                 f"Kafka {mach['kafka']} — {r['startedAt'][:10]}", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    fig.savefig(dst, dpi=110)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

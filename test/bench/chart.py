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
    p, q, d = r["producer"], r["rtt"]["producer"], r["rtt"]["delayMs"]
    ax = axes[0][0]
    names = ["ours\npublish", "raw kafkajs\nsendBatch", "seed-style\nsend", "Java\nProducerPerf"]
    keys = ["ours", "raw", "seedStyle", "java"]
    for offset, rows, color, label in [(-0.2, p, OURS, "loopback"), (0.2, q, PEER, f"+{d} ms each way")]:
        b = ax.bar([i + offset for i in range(4)], [med(rows[k]) for k in keys], 0.4, color=color, label=label)
        for rect in b:
            ax.annotate(f"{rect.get_height():,.0f}", (rect.get_x() + rect.get_width() / 2, rect.get_height()),
                        ha="center", va="bottom", fontsize=7)
    ax.set_xticks(range(4), names)
    ax.tick_params(axis="x", labelsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("events/s (log)")
    ax.set_title("1. Producer throughput (acks=all, ~1 KB)", fontsize=10, fontweight="bold")
    ax.legend(fontsize=7)
    c = r["consumer"]
    bars(axes[0][1], ["consumer\nutility", "raw kafkajs\neachBatch", "Java\nConsumerPerf", "emulator +\nno-op fn",
                      "emulator + audit\n+ DynamoDB"],
         [med(c["utility"]), med(c["raw"]), med(c["java"]), med(c["esmNoop"]), med(c["esmAudit"])],
         [OURS, PEER, PEER, OURS, STORE], "2. Consumer throughput", "records/s (log)", log=True)
    ax = axes[0][2]
    slack = r["settings"]["esmBatchingWindowMs"] + r["settings"]["producer"]["lingerMs"]
    top = 0
    for i, (where, lat) in enumerate([("loopback", r["latency"]), (f"+{d} ms each way", r["rtt"]["latency"])]):
        lo, k = lat["ours"], lat["kafka"]
        b = ax.bar([i - 0.2], [lo["p99Ms"]], 0.4, color=OURS, label="publish → audit entry, p99" if i == 0 else None)
        kb_ = ax.bar([i + 0.2], [k["p99Ms"]], 0.4, color=PEER, label="Kafka EndToEndLatency p99" if i == 0 else None)
        for rect in [*b, *kb_]:
            ax.annotate(f"{rect.get_height():,.0f}", (rect.get_x() + rect.get_width() / 2, rect.get_height()),
                        ha="center", va="bottom", fontsize=8)
        limit = 3 * k["p99Ms"] + slack
        ax.hlines(limit, i - 0.45, i + 0.45, color="#cf222e", linestyle="--", linewidth=1,
                  label="goal (3 × Kafka p99 + window + linger)" if i == 0 else None)
        top = max(top, lo["p99Ms"], limit)
    ax.set_xticks(range(2), ["loopback", f"+{d} ms each way"])
    ax.set_yscale("log")
    ax.set_ylim(top=top * 20)
    ax.set_ylabel("ms (log)")
    ax.set_title(f"3. End-to-end latency at {r['latency']['ours']['offeredPerSecond']} events/s", fontsize=10,
                 fontweight="bold")
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
    o, w = m["ours"], m["raw"]
    ax = axes[1][2]
    ax.bar([-0.2, 0.8], [o["before"]["rssMiB"], w["before"]["rssMiB"]], 0.4, color=PEER,
           label="RSS after warm-up (GC)")
    ax.bar([0.2, 1.2], [o["after"]["rssMiB"], w["after"]["rssMiB"]], 0.4, color=OURS,
           label=f"RSS after {o['events']:,} more (GC)")
    ax.scatter([0, 1], [o["peakRssMiB"], w["peakRssMiB"]], color="#cf222e", marker="_", s=400, label="peak RSS")
    ax.set_xticks([0, 1], ["ours publish", "raw kafkajs"])
    ax.set_ylabel("MiB")
    ax.set_title(f"5. Producer memory (growth {o['rssGrowthPct']:+.1f} %, peak {m['peakRatio']:.2f}× raw)",
                 fontsize=10, fontweight="bold")
    ax.legend(fontsize=8)
    mach = r["machine"]
    fig.suptitle(f"esante event bus — {r['command']} — {mach['cores']} cores, Node {mach['node']}, "
                 f"Kafka {mach['kafka']} — {r['startedAt'][:10]}", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    fig.savefig(dst, dpi=110)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

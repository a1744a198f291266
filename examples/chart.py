# ===================
# Part 1: Importing Libraries
# ===================
import matplotlib.pyplot as plt
import numpy as np

# ===================
# Part 2: Data Preparation
# ===================
quarters = ["Q1", "Q2", "Q3", "Q4"]
north = [23.5, 27.1, 30.4, 34.8]
south = [18.2, 21.7, 19.9, 25.3]
west = [12.4, 15.8, 21.1, 24.6]
x = np.arange(len(quarters))
width = 0.25

# ===================
# Part 3: Plot Configuration and Rendering
# ===================
fig, ax = plt.subplots(figsize=(8, 5))
bars_n = ax.bar(x - width, north, width, label="North", color="#4C72B0", edgecolor="black")
bars_s = ax.bar(x, south, width, label="South", color="#DD8452", edgecolor="black")
bars_w = ax.bar(x + width, west, width, label="West", color="#55A868", edgecolor="black")

for bars in (bars_n, bars_s, bars_w):
    for bar in bars:
        ax.annotate(f"{bar.get_height():.1f}", xy=(bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    xytext=(0, 3), textcoords="offset points", ha="center", va="bottom", fontsize=8)

ax.set_title("Quarterly Revenue by Region (2024)", fontsize=14, fontweight="bold")
ax.set_xlabel("Quarter")
ax.set_ylabel("Revenue (M$)")
ax.set_xticks(x)
ax.set_xticklabels(quarters)
ax.set_ylim(0, 40)
ax.legend(loc="upper left", frameon=False)
ax.grid(axis="y", linestyle="--", alpha=0.6)
ax.spines["top"].set_visible(False)
ax.spines["right"].set_visible(False)

# ===================
# Part 4: Saving Output
# ===================
plt.tight_layout()
plt.savefig("chart.pdf", bbox_inches="tight")

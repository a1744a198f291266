"""Benchmarks: VC-RewardBench-style judge metrics, vision-to-code task metrics (ChartMimic-style
chart F1s, TEDS / TEDS-S, SVG pixel metrics), speed figures, and Markdown reports with plots.

Every result file written here records :data:`erm_cli.bench.versions.METRICS_VERSION`, the metric
definitions' versions and the renderer / library versions, so numbers can be reproduced later.
"""

"""Training: reward-model SFT and policy GRPO with TRL, presets, accelerate configs and the verl export.

Entry points (all heavy imports happen inside them):

- :func:`erm_cli.train.reward_sft.train_reward_model` — SFT of a VLM into a Visual-ERM-style judge.
- :func:`erm_cli.train.policy_grpo.train_policy` — GRPO of an image-to-code policy with erm's reward.
- :func:`erm_cli.train.export_verl.export_verl` — a verl-ready parquet and a reward module.
- :mod:`erm_cli.train.rewards` — the one scorer and its TRL / verl / EasyR1 / OpenRLHF adapters.
"""

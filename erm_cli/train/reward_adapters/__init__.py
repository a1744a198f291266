"""Pieces of the RL reward adapters (``erm_cli/train/rewards.py`` is the file the frameworks load):

- :mod:`.chat_text`: a policy's decoded answer without its chat template's end-of-turn and padding
  tokens, and the response part of an OpenRLHF query (prompt + response, image pads expanded);
- :mod:`.options`: the one list of reward options, checked (an unknown option is an error) and split
  into adapter, render and judge options;
- :mod:`.results`: the score a framework's reward manager reads, and the per-sample log.
"""
